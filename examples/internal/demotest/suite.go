package demotest

import (
	"testing"

	"github.com/kvkit/kvkit/kv/kvtest"
)

// Suite runs every end-to-end check on one demo app: the story over the
// embedded backend and over the local API server, and the browser test.
// Both apps run exactly this, so they are held to the same behaviour.
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
	t.Run("Browser", func(t *testing.T) {
		Browser(t, Start(t, run))
	})
}
