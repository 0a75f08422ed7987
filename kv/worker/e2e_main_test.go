//go:build e2e

package worker_test

import (
	"fmt"
	"os"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/worker"
	"github.com/kvkit/kvkit/kv/worker/workertest"
)

// One workerd for the package's e2e tests: started by the first test that
// needs it, stopped after the last.
var (
	sharedOnce sync.Once
	shared     *workertest.Instance
	sharedErr  error
)

func init() {
	afterTests = append(afterTests, func() {
		if shared != nil {
			if err := shared.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "workertest:", err)
			}
		}
	})
}

// instance returns the shared workerd, failing t (never skipping) when
// Node or the npm packages are missing.
func instance(t testing.TB) *workertest.Instance {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = workertest.Launch(workertest.Options{Namespaces: 40})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// fastRetries keeps retry tests quick.
var fastRetries = worker.Options{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

// realClockCases write values over 1 KiB and never read the clock:
// Miniflare caps values at 1 KiB in a namespace whose clock was moved.
var realClockCases = map[string]bool{"ValueSize": true, "Stream": true}

// TestConformance runs kvkit's conformance suite against the Worker in
// workerd, each case on a namespace of its own whose KV clock follows the
// suite's.
func TestConformance(t *testing.T) {
	inst := instance(t)
	kvtest.Run(t, func(t *testing.T, now func() time.Time) kv.Namespace {
		clock := workertest.KVClock
		if realClockCases[path.Base(t.Name())] {
			clock = workertest.RealClock
		}
		return inst.Fresh(t, now, clock, fastRetries)
	})
}
