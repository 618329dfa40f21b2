package gossip

import (
	"testing"
	"time"
)

// TestRepairBackoff: a burst gets its rounds at the base interval; changes
// that keep coming past them double it up to 16 times the base; a quiet
// interval returns to the base.
func TestRepairBackoff(t *testing.T) {
	const base, rounds = time.Second, 3
	interval, busy := base, 0
	var got []time.Duration
	for range 10 {
		interval, busy = repairBackoff(base, rounds, interval, busy, true)
		got = append(got, interval)
	}
	want := []time.Duration{1, 1, 1, 2, 4, 8, 16, 16, 16, 16}
	for i := range want {
		if got[i] != want[i]*base {
			t.Fatalf("intervals under steady change: got %v, want %v (seconds)", got, want)
		}
	}
	if interval, busy = repairBackoff(base, rounds, interval, busy, false); interval != base || busy != 0 {
		t.Errorf("after a quiet interval: %v, %d; want %v, 0", interval, busy, base)
	}
}
