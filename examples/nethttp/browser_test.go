//go:build e2e

package main

import (
	"testing"

	"github.com/kvkit/kvkit/examples/internal/demotest"
)

// TestBrowser drives the demo in headless Chromium (go test -tags e2e).
func TestBrowser(t *testing.T) { demotest.BrowserSuite(t, run) }
