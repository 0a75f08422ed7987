package kvtest

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a manual clock for tests: it stands still until advanced. Its Now
// method is what backends and Stores take as their Clock option.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Epoch is where a NewClock starts: a whole second, far from MaxExpiration.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a Clock set to Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
