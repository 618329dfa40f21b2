package gossip_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/serf/serf"
)

// A newcomer that takes an existing node's name is outvoted by the
// members that know the original, and shuts down; the original stays.
func TestNameConflictResolvedByMajority(t *testing.T) {
	nodes, _ := startJoined(t, 4)
	impostor, _ := startNode(t, fastConfig(t, "node-1"))
	// The join may fail or succeed: memberlist refuses the clashing name on
	// some paths. Either way the conflict reaches both parties.
	_, _ = impostor.Join(context.Background(), []string{nodes[2].Addr()}, false)
	select {
	case <-impostor.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the impostor is still running 20s after joining under a taken name")
	}
	if !impostor.ConflictLost() {
		t.Error("the impostor stopped, but not for losing the name conflict")
	}
	select {
	case <-nodes[1].Done():
		t.Fatal("the original node-1 shut down")
	default:
	}
	if nodes[1].ConflictLost() {
		t.Error("the original node-1 believes it lost")
	}
}

// In a cluster of ours and Serf's, an impostor of ours that takes a Serf
// node's name is outvoted (Serf's answers decoded by us), and the Serf
// node, which asks too (our answers decoded by Serf), keeps its name.
// The nodes run on a network of their own: see TestSerfInteropQueries.
func TestSerfInteropNameConflict(t *testing.T) {
	nw := memnet.New(memnet.Config{Seed: 5})
	t.Cleanup(func() { _ = nw.Close() })
	ourNode := func(name string) *gossip.Node {
		cfg := fastConfig(t, name)
		cfg.Transport = nw.NewTransport()
		n, _ := startNode(t, cfg)
		return n
	}
	serfNode := func(name string) *serf.Serf {
		return startSerfWith(t, name, nil, func(c *serf.Config) { c.MemberlistConfig.Transport = nw.NewTransport() })
	}
	ours0, ours1 := ourNode("ours-0"), ourNode("ours-1")
	serf0, serf1 := serfNode("serf-0"), serfNode("serf-1")
	for _, addr := range []string{ours0.Addr(), serfAddr(serf0), serfAddr(serf1)} {
		if _, err := ours1.Join(context.Background(), []string{addr}, false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, func() string {
		if ours0.NumMembers() != 4 || ours1.NumMembers() != 4 || serf0.NumNodes() != 4 || serf1.NumNodes() != 4 {
			return "not all four joined yet"
		}
		return ""
	})
	impostor := ourNode("serf-0")
	_, _ = impostor.Join(context.Background(), []string{ours0.Addr()}, false)
	select {
	case <-impostor.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the impostor is still running 20s after joining under a Serf node's name")
	}
	if !impostor.ConflictLost() {
		t.Error("the impostor stopped, but not for losing the name conflict")
	}
	if st := serf0.State(); st != serf.SerfAlive {
		t.Errorf("the Serf node that owned the name is %v; want alive", st)
	}
}
