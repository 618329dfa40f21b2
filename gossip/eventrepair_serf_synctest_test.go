//go:build !race

package gossip_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
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
		var ss []*serf.Serf
		var addrs []string
		for i := range serfs {
			tr := nw.NewTransport()
			addrs = append(addrs, tr.Addr())
			ss = append(ss, startSerfWith(t, fmt.Sprintf("serf-%d", i), nil, func(c *serf.Config) {
				mc := memberlist.DefaultLANConfig()
				mc.Transport, mc.Logger = tr, c.Logger
				c.MemberlistConfig = mc
			}))
			if _, err := ss[i].Join([]string{ours[0].Addr()}, false); err != nil {
				t.Fatal(err)
			}
		}
		for !allSee(ours, serfs+1) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(10 * time.Second) // past the repair rounds of the joins
		setLoss := func(p float64) {
			for _, a := range addrs {
				nw.SetLinkLoss(a, ours[0].Addr(), p)
			}
		}
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
