package coarse

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNowTracksTheClock(t *testing.T) {
	before := time.Now().UnixNano()
	got := Now()
	// The refresher may be running already (another test, or the previous
	// run of -count=N): the value is then up to a tick or so old. A start
	// from stopped gives the exact time; TestRefresherStopsWhenIdle checks it.
	assert.Less(t, before-got, int64(time.Second), "coarse time lags far behind")
	// While in use the value moves forward with the real clock.
	deadline := time.Now().Add(5 * time.Second)
	for Now() == got && time.Now().Before(deadline) {
		time.Sleep(Resolution) // waiting for the refresher, not timing it
	}
	assert.Greater(t, Now(), got, "coarse time never advanced")
	lag := time.Now().UnixNano() - Now()
	assert.Less(t, lag, int64(time.Second), "coarse time lags far behind")
}

func TestRefresherStopsWhenIdle(t *testing.T) {
	Now()
	assert.True(t, running())
	deadline := time.Now().Add(10 * time.Second)
	for running() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.False(t, running(), "refresher still running long after the last read")
	// And the next read starts it again with a fresh time.
	before := time.Now().UnixNano()
	assert.GreaterOrEqual(t, Now(), before)
	assert.True(t, running())
}

func BenchmarkNow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Now()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		time.Now()
	}
}

// Reads racing with the start and the stop of the refresher each get a
// time no older than the last tick, and leave one refresher that stops
// (goleak checks that none is left).
func TestConcurrentReadsAcrossStarts(t *testing.T) {
	for range 3 {
		deadline := time.Now().Add(10 * time.Second)
		for running() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // waiting for the refresher to stop
		}
		require.False(t, running())
		before := time.Now().UnixNano()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 1000 {
					assert.GreaterOrEqual(t, Now(), before-int64(time.Second))
				}
			}()
		}
		wg.Wait()
		assert.True(t, running())
	}
}
