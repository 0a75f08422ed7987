package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/examples/internal/demotest"
	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStoryOverEmbeddedBackend(t *testing.T) {
	base := demotest.Start(t, run)
	demotest.Story(t, base, framework)
}

func TestStoryOverLocalAPIServer(t *testing.T) {
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	base := demotest.Start(t, run, "-backend", "local")
	demotest.Story(t, base, framework)
	demotest.RequestsShown(t, base)
}

func TestBrowser(t *testing.T) {
	demotest.Browser(t, demotest.Start(t, run))
}
