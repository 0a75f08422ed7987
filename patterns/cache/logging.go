package cache

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logInterval is the shortest time between two log records of one kind: a
// KV outage under load is logged once a minute with a count of what was
// suppressed, never once per request.
const logInterval = time.Minute

// quietLog rate-limits error logging per kind of event.
type quietLog struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	last  map[string]time.Time
	quiet map[string]int
}

func newQuietLog(l *slog.Logger, now func() time.Time) *quietLog {
	if l == nil {
		l = slog.Default()
	}
	return &quietLog{log: l, now: now, last: map[string]time.Time{}, quiet: map[string]int{}}
}

// error logs msg at error level unless a record of the same kind was
// logged less than logInterval ago, in which case it only counts it.
func (q *quietLog) error(kind, msg string, err error, key string) {
	now := q.now()
	q.mu.Lock()
	last, seen := q.last[kind]
	if seen && now.Sub(last) < logInterval {
		q.quiet[kind]++
		q.mu.Unlock()
		return
	}
	n := q.quiet[kind]
	q.last[kind] = now
	q.quiet[kind] = 0
	q.mu.Unlock()
	q.log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.String("key", key), slog.Any("err", err), slog.Int("suppressed", n))
}
