//go:build !race

package gossip_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
)

// missedQueryAcks runs 10 nodes (LAN timings); node 9 hears no packet for
// the first 1.5 s of a query node 0 asks with acks and an 8 s timeout, so
// neither the direct sends nor the gossip of the query reach it. It
// returns the nodes that acknowledged, and node 0's stats.
func missedQueryAcks(t *testing.T, tune func(*gossip.Config)) (acked map[string]bool, st gossip.Stats) {
	const n = 10
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 5})
		nw.SetDelay(250 * time.Microsecond)
		nodes := newSimNodes(t, nw, n, "node-%d", tuneEach(tune))
		joinInTurn(t, nodes)
		acked = acksWhileDeaf(t, nodes[0], func(p float64) { setDeaf(nw, addrsOf(nodes), nodes[n-1].Addr(), p) })
		st = nodes[0].Stats()
		stopSim(nw, nodes)
	})
	return acked, st
}

// TestSynctestMissedQueryRepaired: a member that heard neither the direct
// sends nor the gossip of a query still gets it, because the asker sends
// it again to every member that has not acknowledged it at a quarter of
// the timeout. Negative control: with repairs off it never acknowledges.
func TestSynctestMissedQueryRepaired(t *testing.T) {
	acked, st := missedQueryAcks(t, nil)
	if len(acked) != 10 || !acked["node-9"] {
		t.Errorf("with repair, %d nodes acknowledged (node-9: %v); want all 10", len(acked), acked["node-9"])
	}
	if st.QueryResends == 0 || st.QueryResends > 2 {
		t.Errorf("the asker sent the query again %d times; want 1 or 2 (to node-9 only)", st.QueryResends)
	}
	off, _ := missedQueryAcks(t, func(c *gossip.Config) { c.RepairRounds = 0 })
	if off["node-9"] {
		t.Errorf("without repairs node-9 still acknowledged: the test does not isolate the repair")
	}
	t.Logf("acks with repair: %d (query sent again %d times); without: %d", len(acked), st.QueryResends, len(off))
}

// TestSynctestMissedQueryRepairedOnSerf: the resend reaches a Serf node
// too. Our node 0 asks, with acks, in a cluster of 4 of ours and 4 Serf
// library nodes on the in-memory network; serf-3 hears nothing for the
// first 1.5 s of the query, gets it again from the asker, and its Serf
// acknowledges it. Negative control: with repairs off on the asker it
// never does.
func TestSynctestMissedQueryRepairedOnSerf(t *testing.T) {
	for _, repair := range []bool{true, false} {
		acked := missedQueryAcksOnSerf(t, repair)
		switch {
		case repair && (len(acked) != 8 || !acked["serf-3"]):
			t.Errorf("with repair, %d nodes acknowledged (serf-3: %v); want all 8", len(acked), acked["serf-3"])
		case !repair && acked["serf-3"]:
			t.Errorf("without repairs serf-3 still acknowledged: the test does not isolate the repair")
		}
		t.Logf("repair %v: %d acks", repair, len(acked))
	}
}

func missedQueryAcksOnSerf(t *testing.T, repair bool) (acked map[string]bool) {
	const n = 4
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 6})
		nw.SetDelay(250 * time.Microsecond)
		ours := newSimNodes(t, nw, n, "ours-%d", func(_ int, cfg *gossip.Config) {
			if !repair {
				cfg.RepairRounds = 0
			}
		})
		joinInTurn(t, ours)
		serfs := startSerfsOnNet(t, nw, n, ours[0].Addr())
		settle(ours, 2*n)
		from := addrsOf(ours)
		for _, s := range serfs {
			from = append(from, serfAddr(s))
		}
		acked = acksWhileDeaf(t, ours[0], func(p float64) { setDeaf(nw, from, serfAddr(serfs[n-1]), p) })
		for _, s := range serfs {
			_ = s.Shutdown()
		}
		stopSim(nw, ours)
	})
	return acked
}

// acksWhileDeaf has asker ask a query with acks and an 8 s timeout while
// deafen(1) keeps one member from hearing anything for its first 1.5 s
// (deafen(0) heals), and returns the members that acknowledged it.
func acksWhileDeaf(t *testing.T, asker *gossip.Node, deafen func(p float64)) map[string]bool {
	deafen(1)
	resp, err := asker.Query("uptime", nil, gossip.QueryParams{RequestAck: true, Timeout: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	deafen(0)
	acked := map[string]bool{}
	for name := range resp.Acks() {
		acked[name] = true
	}
	return acked
}
