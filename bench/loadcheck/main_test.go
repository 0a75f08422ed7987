package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestLoadcheckRuns keeps the program working: a small load on each demo,
// which fails on any error response.
func TestLoadcheckRuns(t *testing.T) {
	for _, app := range []string{"nethttp", "echo"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := run(ctx, io.Discard, app, "../..", 5, 200, 0.5); err != nil {
			t.Errorf("%s: %v", app, err)
		}
		cancel()
	}
}
