package demotest

import (
	"testing"

	"github.com/kvkit/kvkit/kv/kvtest"
)

// Suite runs the end-to-end checks on one demo app that need Go alone: the
// story over the embedded backend and over the local API server. Both apps
// run exactly this, so they are held to the same behaviour; the browser
// test (BrowserSuite) is built with the e2e tag only.
func Suite(t *testing.T, run RunFunc, framework string) {
	t.Run("StoryOverEmbeddedBackend", func(t *testing.T) {
		Story(t, Start(t, run), framework)
	})
	t.Run("StoryOverLocalAPIServer", func(t *testing.T) {
		srv := kvtest.NewServer(t, kvtest.ServerOptions{})
		for k, v := range srv.Env() {
			t.Setenv(k, v)
		}
		base := Start(t, run, "-backend", "local")
		Story(t, base, framework)
		RequestsShown(t, base)
	})
}
