//go:build e2e

package demotest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/examples/internal/demo"
	"github.com/kvkit/kvkit/internal/browsertest"
	"github.com/kvkit/kvkit/patterns/flags"
)

// Browser signs in through a real headless Chromium, checks that the page
// shows the flag-gated block exactly when Bucket says so, calls the
// rate-limited API from the page's script, and signs out.
func Browser(t *testing.T, base string) {
	step := browsertest.Start(t).Step

	const name = "linus" // bucket 18.47 < 50: sees the new UI (the story's "ada", 99.68, does not)
	require.NoError(t, chromedp.Do(step(),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("user")),
	))
	user, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("user")))
	require.NoError(t, err)
	hasNew, err := chromedp.Run(step(), chromedp.Evaluate[bool](`document.getElementById("new-ui") !== null`))
	require.NoError(t, err)
	hasOld, err := chromedp.Run(step(), chromedp.Evaluate[bool](`document.getElementById("old-ui") !== null`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(step(),
		chromedp.Click(chromedp.ID("call-api")),
		chromedp.Poll[chromedp.Void](`document.getElementById("api-result").textContent.includes("X-RateLimit-Limit")`),
	))
	apiResult, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("api-result")))
	require.NoError(t, err)
	assert.Equal(t, name, user)
	want := flags.Bucket(demo.NewUIFlag, name) < demo.SeedFlags[demo.NewUIFlag].RolloutPercent
	assert.Equal(t, want, hasNew, "the new-ui block follows Bucket(%q, %q)", demo.NewUIFlag, name)
	assert.Equal(t, !want, hasOld)
	assert.True(t, strings.HasPrefix(apiResult, "200"), apiResult)
	assert.Contains(t, apiResult, `"hello": "linus"`, "the JSON is pretty-printed")

	// Past the limit the box shows the 429 as JSON too, never raw HTML.
	for range demo.APILimit {
		require.NoError(t, chromedp.Do(step(),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("api-result").textContent = ""`),
			chromedp.Click(chromedp.ID("call-api")),
			chromedp.Poll[chromedp.Void](`document.getElementById("api-result").textContent.includes("X-RateLimit-Limit")`),
		))
	}
	apiResult, err = chromedp.Run(step(), chromedp.Text(chromedp.ID("api-result")))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(apiResult, "429"), apiResult)
	assert.Contains(t, apiResult, `"error": "rate limit exceeded"`)
	assert.Contains(t, apiResult, "Retry-After: ")
	assert.NotContains(t, apiResult, "<", "no HTML in the API box")

	// The cache page says what a miss's missing Age means instead of "null".
	require.NoError(t, chromedp.Do(step(),
		chromedp.Navigate(base+"/cache"),
		chromedp.WaitVisible(chromedp.ID("load-slow")),
		chromedp.Click(chromedp.ID("load-slow")),
		chromedp.Poll[chromedp.Void](`document.getElementById("slow-result").textContent.includes("Cache-Status")`),
	))
	slowResult, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("slow-result")))
	require.NoError(t, err)
	assert.NotContains(t, slowResult, "null", slowResult)
	require.NoError(t, chromedp.Do(step(), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("signout"))))

	require.NoError(t, chromedp.Do(step(),
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("signin")),
	))
	signedOut, err := chromedp.Run(step(), chromedp.Evaluate[bool](`document.getElementById("user") === null`))
	require.NoError(t, err)
	assert.True(t, signedOut, "signed out")
}

// BrowserSuite drives one demo app in headless Chromium. It is built only
// with the e2e tag (go test -tags e2e, as .ci/run runs it), and fails when
// Chromium is missing.
func BrowserSuite(t *testing.T, run RunFunc) {
	Browser(t, Start(t, run))
}
