//go:build !race

package gossip_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
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
		setDeaf(nw, nodes, n-1, 1)
		resp, err := nodes[0].Query("uptime", nil, gossip.QueryParams{RequestAck: true, Timeout: 8 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		setDeaf(nw, nodes, n-1, 0)
		acked = map[string]bool{}
		for name := range resp.Acks() {
			acked[name] = true
		}
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
		var serfs []*serf.Serf
		for i := range n {
			tr := nw.NewTransport()
			serfs = append(serfs, startSerfWith(t, fmt.Sprintf("serf-%d", i), nil, func(c *serf.Config) {
				mc := memberlist.DefaultLANConfig()
				mc.Transport, mc.Logger = tr, c.Logger
				c.MemberlistConfig = mc
			}))
		}
		joinInTurn(t, ours)
		for _, s := range serfs {
			if _, err := s.Join([]string{ours[0].Addr()}, false); err != nil {
				t.Fatal(err)
			}
		}
		for !allSee(ours, 2*n) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		deaf := serfAddr(serfs[n-1])
		var others []string
		for _, nd := range ours {
			others = append(others, nd.Addr())
		}
		for _, s := range serfs[:n-1] {
			others = append(others, serfAddr(s))
		}
		setLoss := func(p float64) {
			for _, a := range others {
				nw.SetLinkLoss(a, deaf, p)
			}
		}
		setLoss(1)
		resp, err := ours[0].Query("uptime", nil, gossip.QueryParams{RequestAck: true, Timeout: 8 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		setLoss(0)
		acked = map[string]bool{}
		for name := range resp.Acks() {
			acked[name] = true
		}
		for _, s := range serfs {
			_ = s.Shutdown()
		}
		stopSim(nw, ours)
	})
	return acked
}
