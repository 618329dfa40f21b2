//go:build !race

package gossip_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
)

// missedEventArrival runs 10 nodes (LAN timings); node 9 hears no packet
// for the 5 s in which node 0 fires event "first" (so neither the direct
// sends nor gossip reach it), then node 0 fires "second". It returns how
// long after "second" reached node 9 "first" did too (or limit), and node
// 9's stats.
func missedEventArrival(t *testing.T, tune func(*gossip.Config), limit time.Duration) (took time.Duration, st gossip.Stats) {
	const n = 10
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 3})
		nw.SetDelay(250 * time.Microsecond)
		stop := make(chan struct{})
		defer close(stop)
		ch := make(chan events.Event, 256)
		nodes := newSimNodes(t, nw, n, "node-%d", func(i int, cfg *gossip.Config) {
			if i == n-1 {
				cfg.Events = ch
			}
			if tune != nil {
				tune(cfg)
			}
		})
		seen := recordEvents(ch, stop)
		joinInTurn(t, nodes)
		setDeaf(nw, addrsOf(nodes), nodes[n-1].Addr(), 1)
		if err := nodes[0].UserEvent("first", nil, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		setDeaf(nw, addrsOf(nodes), nodes[n-1].Addr(), 0)
		if seen.has("first") {
			t.Fatal("node 9 got the first event through the loss: the test shows nothing")
		}
		if err := nodes[0].UserEvent("second", nil, false); err != nil {
			t.Fatal(err)
		}
		took = seen.lag("first", "second", limit)
		st = nodes[n-1].Stats()
		stopSim(nw, nodes)
	})
	return took, st
}

// TestSynctestMissedEventRepaired: a node that missed a user event learns
// of it from the next one (its time is above the node's event clock) and
// fetches it with one push/pull at once, instead of waiting for the
// periodic push/pull (30 s here). Negative control: with repairs off the
// first event arrives only with that push/pull.
func TestSynctestMissedEventRepaired(t *testing.T) {
	took, st := missedEventArrival(t, nil, time.Minute)
	t.Logf("with repair: the missed event arrived %v after the next one; gaps %d, gap push/pulls %d", took, st.EventGaps, st.EventGapPushPulls)
	if took > time.Second {
		t.Errorf("the missed event arrived %v after the next one; want within 1s", took)
	}
	if st.EventGaps == 0 || st.EventGapPushPulls == 0 || st.EventGapPushPulls > 2 {
		t.Errorf("gaps %d, gap push/pulls %d; want at least one gap and one or two push/pulls", st.EventGaps, st.EventGapPushPulls)
	}
	off, _ := missedEventArrival(t, func(c *gossip.Config) { c.RepairRounds = 0 }, time.Minute)
	t.Logf("without repair: %v", off)
	if off <= 2*time.Second {
		t.Errorf("without repairs the missed event still arrived after %v: the test does not isolate the repair", off)
	}
}
