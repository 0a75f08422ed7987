//go:build e2e

// Package browsertest starts headless Chromium for kvkit's browser tests
// (the demo's and the dashboard's). It is built only with the e2e tag, and
// a test fails, never skips, when Chromium is missing: .ci/run installs
// Debian's chromium.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Path finds the browser: $KVKIT_CHROMIUM, else Debian's chromium.
func Path(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("KVKIT_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium (apt-get install chromium; .ci/run does) or set KVKIT_CHROMIUM")
	return ""
}

// Browser is one headless Chromium with one tab, stopped when the test
// ends.
type Browser struct {
	t   *testing.T
	ctx context.Context
}

// Start launches Chromium as CI can run it (as root, offline: no sandbox,
// no background networking, no component updates, a fresh profile).
func Start(t *testing.T) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first call starts the browser for the life of ctx: no timeout on
	// it. Each step gets its own bound.
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return &Browser{t: t, ctx: ctx}
}

// Step returns a context for one step of the test: the tab's, bounded to
// 30 s.
func (b *Browser) Step() context.Context {
	c, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	b.t.Cleanup(cancel)
	return c
}
