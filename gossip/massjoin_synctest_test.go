//go:build !race

package gossip_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
)

// massJoin starts n nodes with LAN timings that all join node 0 at the
// same moment, and returns the protocol time until every node lists every
// other one alive (or limit), and the most repair push/pulls one node made.
func massJoin(t *testing.T, n int, limit time.Duration, tune func(*gossip.Config)) (took time.Duration, maxRepairs uint64) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 11})
		nw.SetDelay(250 * time.Microsecond)
		nodes := newSimNodes(t, nw, n, "node-%03d", tuneEach(tune))
		took = joinAtOnce(t, nodes, limit)
		for _, nd := range nodes {
			maxRepairs = max(maxRepairs, nd.Stats().RepairPushPulls)
		}
		stopSim(nw, nodes)
	})
	return took, maxRepairs
}

// joinAtOnce has every node but the first join the first at the same
// moment and returns the protocol time until every node lists all of them
// (or limit).
func joinAtOnce(t *testing.T, nodes []*gossip.Node, limit time.Duration) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for _, nd := range nodes[1:] {
		wg.Go(func() {
			if _, err := nd.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
				t.Logf("%s: %v", nd.Name(), err)
			}
		})
	}
	wg.Wait()
	for !allSee(nodes, len(nodes)) && time.Since(start) < limit {
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// TestSynctestMassJoin: 400 nodes (LAN timings, in-memory network) all
// join one seed at once and every node lists all 400 alive within 15 s of
// protocol time. Without the repair push/pulls (RepairRounds 0) the same
// run took 2 min 46 s: a few nodes missed some alive messages and waited
// for memberlist's periodic push/pull.
func TestSynctestMassJoin(t *testing.T) {
	const n = 400
	took, repairs := massJoin(t, n, 5*time.Minute, nil)
	t.Logf("%d nodes: all see all after %v; at most %d repair push/pulls per node", n, took, repairs)
	if took > 15*time.Second {
		t.Fatalf("%d nodes took %v to converge; want under 15s", n, took)
	}
	if limit := uint64(took/time.Second) + 4; repairs > limit {
		t.Errorf("a node made %d repair push/pulls in %v; want at most one a second (%d)", repairs, took, limit)
	}
}
