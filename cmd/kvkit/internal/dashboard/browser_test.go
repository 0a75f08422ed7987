//go:build e2e

package dashboard_test

import (
	"context"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/cmd/kvkit/internal/dashboard"
	"github.com/kvkit/kvkit/internal/browsertest"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/patterns/flags"
)

// TestBrowser drives the dashboard in headless Chromium, behind a token:
// sign in, create a namespace, put a JSON value and see it pretty-printed,
// change a flag's rollout and see the bucket answer change, delete the key.
func TestBrowser(t *testing.T) {
	srv, err := kvserver.New(kvserver.Options{Token: "s3cret"})
	require.NoError(t, err)
	d, err := dashboard.New(srv, dashboard.Options{Token: "s3cret"})
	require.NoError(t, err)
	ts := httptest.NewServer(d)
	defer ts.Close()

	step := browsertest.Start(t).Step
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(step(), chromedp.TextContent(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}

	// Sign in.
	require.NoError(t, chromedp.Do(step(),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "s3cret"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("ns-title")),
	))

	// Create a namespace: the page moves to its keys.
	require.NoError(t, chromedp.Do(step(),
		chromedp.SendKeys(chromedp.ID("ns-title"), "browser-test"),
		chromedp.Click(chromedp.ID("ns-create")),
		chromedp.WaitVisible(chromedp.ID("put-key")),
	))
	var nsID string
	for _, info := range srv.Namespaces() {
		if info.Title == "browser-test" {
			nsID = info.ID
		}
	}
	require.NotEmpty(t, nsID, "created through the dashboard")

	// Put a JSON value: the flag definition, as the TypeScript recipe stores
	// it. The viewer pretty-prints it.
	const user = "alice"
	bucket := flags.Bucket("new-ui", user)
	low := strconv.FormatFloat(math.Floor(bucket)-1, 'f', -1, 64) // 8 for alice (9.97)
	high := strconv.FormatFloat(math.Ceil(bucket)+1, 'f', -1, 64) // 11
	require.NoError(t, chromedp.Do(step(),
		chromedp.SendKeys(chromedp.ID("put-key"), "flag:new-ui"),
		chromedp.SetValue(chromedp.ID("put-value"), `{"enabled":true,"rolloutPercent":`+low+`,"allowlist":[]}`),
		chromedp.Click(chromedp.ID("put-submit")),
		chromedp.WaitVisible(chromedp.ID("value")),
	))
	assert.Equal(t, "flag:new-ui", text("#key-name"))
	assert.Equal(t, "json", text("#kind"))
	assert.Equal(t, "{\n  \"enabled\": true,\n  \"rolloutPercent\": "+low+",\n  \"allowlist\": []\n}", text("#value"))

	// Which bucket is alice in? Below the rollout: off.
	row := `tr[data-flag="new-ui"] `
	require.NoError(t, chromedp.Do(step(),
		chromedp.Click(chromedp.ID("tab-flags")),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.Click(chromedp.ID("user-check")),
		chromedp.WaitVisible(chromedp.CSS(row+"td.decision")),
	))
	assert.Equal(t, strconv.FormatFloat(bucket, 'f', 4, 64), text(row+"td.bucket"))
	assert.True(t, strings.HasPrefix(text(row+"td.decision"), "off"), text(row+"td.decision"))

	// Raise the rollout past her bucket: the answer changes to on (on the
	// page the form's POST redirects to, which replaces the marked one).
	require.NoError(t, chromedp.Do(step(),
		chromedp.Evaluate[chromedp.Void](`window.oldPage = true`),
		chromedp.SetValue(chromedp.CSS(row+"input.rollout"), high),
		chromedp.Click(chromedp.CSS(row+"button.save")),
	))
	waitFor(t, step(), `!window.oldPage && document.readyState === "complete" && document.querySelector('tr[data-flag="new-ui"] td.decision') !== null`)
	assert.True(t, strings.HasPrefix(text(row+"td.decision"), "on"), text(row+"td.decision"))
	assert.Equal(t, high+"%", text(row+"td.rollout-now"))

	// Delete the key, confirming the dialog.
	require.NoError(t, chromedp.Do(step(),
		chromedp.Click(chromedp.CSS(row+"td a")),
		chromedp.WaitVisible(chromedp.ID("delete-key")),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.ID("delete-key")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	))
	assert.Equal(t, `Deleted "flag:new-ui".`, text("#notice"))
	ns, ok := srv.Namespace(nsID)
	require.True(t, ok)
	assert.Equal(t, 0, ns.Len(), "the key is gone")
	gone, err := chromedp.Run(step(), chromedp.Evaluate[bool](`document.querySelector('tr[data-key="flag:new-ui"]') === null`))
	require.NoError(t, err)
	assert.True(t, gone)
}

// waitFor polls a JavaScript condition until it holds, across a page load
// (when evaluating fails because the page is being replaced).
func waitFor(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", expr, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
