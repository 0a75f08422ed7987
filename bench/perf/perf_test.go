package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestQuick runs every row of the table briefly at a tenth of its size
// (what -quick does) and checks that each one runs and prints its line.
// It judges no target: timings on a shared CI machine mean little, and the
// table itself (go run ./perf) is where the targets are checked.
func TestQuick(t *testing.T) {
	defer goleak.VerifyNone(t,
		// scs.New starts its default memstore's cleanup goroutine, which
		// cannot be stopped reliably (StopCleanup races with its start).
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
	cfg := &Config{Quick: true, Batch: time.Millisecond, Rounds: 3, OneShotRounds: 1, Scale: 10}
	var out bytes.Buffer
	if failed := Table(&out, cfg, regexp.MustCompile("")); failed > 0 {
		t.Fatalf("%d rows failed:\n%s", failed, out.String())
	}
	for _, r := range rows {
		if !strings.Contains(out.String(), "| "+r.ID+" |") {
			t.Errorf("row %s missing from the table", r.ID)
		}
	}
	t.Log("\n" + out.String())
}

func TestMedianAndQuartiles(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 100}
	if m := median(xs); m != 3.5 {
		t.Errorf("median %v, want 3.5", m)
	}
	if lo, hi := quartiles(xs); lo != 2 || hi != 5 {
		t.Errorf("quartiles %v %v, want 2 5", lo, hi)
	}
	if m := median([]float64{7, 1, 9}); m != 7 {
		t.Errorf("median %v, want 7", m)
	}
}

func TestRandomOrderVisitsEveryItem(t *testing.T) {
	order := randomOrder(10, 25, 1)
	seen := map[int32]int{}
	for _, i := range order[:20] {
		seen[i]++
	}
	for i := range int32(10) {
		if seen[i] != 2 {
			t.Errorf("item %d seen %d times in two passes, want 2", i, seen[i])
		}
	}
}

func TestInOrderCopiesEveryItem(t *testing.T) {
	items := []string{"a", "bb", "ccc"}
	got := inOrder(items, 6, 1)
	seen := map[string]int{}
	for _, s := range got {
		seen[s]++
	}
	for _, s := range items {
		if seen[s] != 2 {
			t.Errorf("%q seen %d times in two passes, want 2", s, seen[s])
		}
	}
}
