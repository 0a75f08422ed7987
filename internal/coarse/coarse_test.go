package coarse

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNowTracksTheClock(t *testing.T) {
	before := time.Now().UnixNano()
	got := Now()
	assert.GreaterOrEqual(t, got, before)
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
	assert.True(t, running.Load())
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.False(t, running.Load(), "refresher still running long after the last read")
	// And the next read starts it again with a fresh time.
	before := time.Now().UnixNano()
	assert.GreaterOrEqual(t, Now(), before)
	assert.True(t, running.Load())
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
