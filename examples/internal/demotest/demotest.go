// Package demotest drives kvkit's demo apps end to end, the same story for
// both frameworks: sign in, cookie attributes, the flag decision, the
// response cache, the rate limit, the counters, sign out.
package demotest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/examples/internal/demo"
	"github.com/kvkit/kvkit/patterns/flags"
)

// RunFunc is an app's run function: serve until ctx ends, send the base URL
// on ready once listening.
type RunFunc func(ctx context.Context, args []string, stdout io.Writer, ready chan<- string) error

// Start runs an app on a free loopback port and stops it (gracefully) when
// the test ends. It returns the base URL.
func Start(t *testing.T, run RunFunc, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, ready) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		require.NoError(t, err, "app stopped before listening")
		t.Fatal("app stopped before listening")
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("app did not start within 30 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "graceful shutdown")
		case <-time.After(30 * time.Second):
			t.Error("app did not shut down within 30 s")
		}
	})
	return base
}

type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, base: base, http: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		// Redirects are followed by hand, to see each response's cookies.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, string(b)
}

var viewsRE = regexp.MustCompile(`<strong id="views">(\d+)</strong>`)

func views(t *testing.T, page string) int {
	t.Helper()
	m := viewsRE.FindStringSubmatch(page)
	require.NotNil(t, m, "page shows no view counter")
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// Story runs the whole end-to-end story against the app at base.
func Story(t *testing.T, base, framework string) {
	c := newClient(t, base)

	// A visitor who never signed in gets no session cookie at all.
	res, page := c.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, page)
	assert.Empty(t, res.Header.Values("Set-Cookie"), "an unused session sets no cookie")
	assert.Contains(t, page, "Not signed in")
	assert.Contains(t, page, `id="framework">`+framework+`<`)
	first := views(t, page)

	// Errors look the same on both frameworks: text, as http.Error writes.
	res, page = c.do("GET", "/no-such-page", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, demo.NotFoundBody+"\n", page)
	assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))

	// Sign in: a fresh session cookie with the right attributes.
	res, page = c.do("POST", "/signin", url.Values{"name": {"../bad name"}})
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "names are validated")
	assert.Equal(t, "a name is 1 to 32 letters, digits, '-' or '_'\n", page)
	assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
	res, _ = c.do("POST", "/signin", url.Values{"name": {"ada"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	sc := cookies[0]
	assert.Equal(t, "session", sc.Name)
	assert.Equal(t, "/", sc.Path)
	assert.True(t, sc.HttpOnly, "HttpOnly")
	assert.Equal(t, http.SameSiteLaxMode, sc.SameSite)
	assert.Positive(t, sc.MaxAge, "persistent cookie")
	assert.Len(t, sc.Value, 43, "256-bit URL-safe token")
	oldToken := sc.Value

	// Signed in: the page shows the user, the expiry, and the flag decision
	// that Bucket computes for this user (the seeded rollout is 50%).
	res, page = c.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, page, `<strong id="user">ada</strong>`)
	assert.Contains(t, page, `id="expires"`)
	wantNewUI := flags.Bucket(demo.NewUIFlag, "ada") < demo.SeedFlags[demo.NewUIFlag].RolloutPercent
	assert.Equal(t, wantNewUI, strings.Contains(page, `id="new-ui"`), "new-ui block follows the bucket")
	assert.Equal(t, !wantNewUI, strings.Contains(page, `id="old-ui"`))
	assert.Contains(t, page, fmt.Sprintf("%.2f", flags.Bucket(demo.NewUIFlag, "ada")))
	assert.Contains(t, page, fmt.Sprintf(`<span id="rollout">%v</span>%%`, demo.SeedFlags[demo.NewUIFlag].RolloutPercent), "the rollout is shown")
	assert.Contains(t, page, `<a href="/#api">API</a>`, "the nav's API link stays on a page")
	assert.Greater(t, views(t, page), first, "the page-view counter increments")

	// The flags page lists each definition with this user's bucket.
	res, page = c.do("GET", "/flags", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	for name := range demo.SeedFlags {
		assert.Contains(t, page, `data-flag="`+name+`"`)
		assert.Contains(t, page, fmt.Sprintf("%.2f", flags.Bucket(name, "ada")))
	}

	// The slow page: a miss, then hits with an Age, for this signed-in
	// visitor and for an anonymous one. It is public and runs without the
	// session middleware, so the cache shares it with every visitor.
	res, page = c.do("GET", "/slow", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, page)
	assert.Equal(t, "kvkit; fwd=miss", res.Header.Get("Cache-Status"))
	generated := regexp.MustCompile(`id="generated">([^<]+)<`).FindStringSubmatch(page)
	require.NotNil(t, generated)
	for _, who := range []*client{c, newClient(t, base)} {
		res, page = who.do("GET", "/slow", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Contains(t, res.Header.Get("Cache-Status"), "hit")
		assert.NotEmpty(t, res.Header.Get("Age"))
		assert.Contains(t, page, generated[1], "a hit serves the stored page")
	}

	// The API: 5 per minute, then 429 with Retry-After.
	for i := range demo.APILimit {
		res, page = c.do("GET", "/api/hello", nil)
		require.Equal(t, http.StatusOK, res.StatusCode, page)
		assert.Equal(t, strconv.Itoa(demo.APILimit), res.Header.Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(demo.APILimit-1-i), res.Header.Get("X-RateLimit-Remaining"))
		assert.NotEmpty(t, res.Header.Get("X-RateLimit-Reset"))
		assert.Contains(t, page, `"hello":"ada"`)
	}
	res, page = c.do("GET", "/api/hello", nil)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After")
	assert.Positive(t, retry)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"), "the API answers JSON, also when limited")
	assert.JSONEq(t, fmt.Sprintf(`{"error":"rate limit exceeded","limit":%d,"retryAfterSeconds":%d}`, demo.APILimit, retry), page)

	// Sign out: the cookie is expired, and the old token no longer works.
	res, _ = c.do("POST", "/signout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Len(t, res.Cookies(), 1)
	assert.Negative(t, res.Cookies()[0].MaxAge, "sign-out expires the cookie")
	_, page = c.do("GET", "/", nil)
	assert.Contains(t, page, "Not signed in")

	replay := newClient(t, base)
	u, err := url.Parse(base)
	require.NoError(t, err)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: oldToken, Path: "/"}})
	_, page = replay.do("GET", "/", nil)
	assert.Contains(t, page, "Not signed in", "the signed-out token is dead")
}

// RequestsShown checks that a page over a Cloudflare-API backend reports the
// API requests made so far.
func RequestsShown(t *testing.T, base string) {
	c := newClient(t, base)
	_, page := c.do("GET", "/", nil)
	m := regexp.MustCompile(`<span id="requests">(\d+)</span>`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page shows no API request count")
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.Positive(t, n)
}
