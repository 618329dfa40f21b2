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

// TestSynctestMissedEventRepairedFromSerf: the event repair works when
// every peer is a Serf node. Our one node, among 5 Serf library nodes on
// the in-memory network, hears nothing for the 5 s in which serf-0 fires
// "first"; serf-0 then fires "second", whose time shows ours the gap, and
// the push/pull it makes (with a Serf node, the only kind there is) brings
// "first" from Serf's recent events. Negative control: with repairs off,
// "first" comes only with memberlist's periodic push/pull.
func TestSynctestMissedEventRepairedFromSerf(t *testing.T) {
	took := missedEventFromSerf(t, nil)
	t.Logf("with repair: the missed event arrived %v after the next one", took)
	if took > time.Second {
		t.Errorf("the missed event arrived %v after the next one; want within 1s", took)
	}
	off := missedEventFromSerf(t, func(c *gossip.Config) { c.RepairRounds = 0 })
	t.Logf("without repair: %v", off)
	if off <= 2*time.Second {
		t.Errorf("without repairs the missed event still arrived after %v: the test does not isolate the repair", off)
	}
}

// missedEventFromSerf returns how long after "second" reached our node
// "first" did (or a minute).
func missedEventFromSerf(t *testing.T, tune func(*gossip.Config)) (took time.Duration) {
	const serfs = 5
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 8})
		nw.SetDelay(250 * time.Microsecond)
		ch := make(chan events.Event, 256)
		ours := newSimNodes(t, nw, 1, "ours-%d", func(_ int, cfg *gossip.Config) {
			cfg.Events = ch
			if tune != nil {
				tune(cfg)
			}
		})
		stop := make(chan struct{})
		defer close(stop)
		seen := recordEvents(ch, stop)
		ss := startSerfsOnNet(t, nw, serfs, ours[0].Addr())
		settle(ours, serfs+1)
		var addrs []string
		for _, s := range ss {
			addrs = append(addrs, serfAddr(s))
		}
		setLoss := func(p float64) { setDeaf(nw, addrs, ours[0].Addr(), p) }
		setLoss(1)
		if err := ss[0].UserEvent("first", nil, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		setLoss(0)
		if seen.has("first") {
			t.Fatal("our node got the first event through the loss: the test shows nothing")
		}
		if err := ss[0].UserEvent("second", nil, false); err != nil {
			t.Fatal(err)
		}
		took = seen.lag("first", "second", time.Minute)
		for _, s := range ss {
			_ = s.Shutdown()
		}
		stopSim(nw, ours)
	})
	return took
}
