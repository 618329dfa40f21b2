package gossip_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
)

// memCluster is n of our nodes on one in-memory network.
type memCluster struct {
	net   *memnet.Network
	nodes []*gossip.Node
	logs  []*eventLog
	addrs []string
}

// startMemCluster starts n nodes on an in-memory network; tune adjusts each
// node's config. Nodes are not joined.
func startMemCluster(t *testing.T, n int, tune func(*gossip.Config)) *memCluster {
	t.Helper()
	c := &memCluster{net: memnet.New(memnet.Config{Seed: 1})}
	t.Cleanup(func() { _ = c.net.Close() })
	for i := range n {
		tr := c.net.NewTransport()
		cfg := fastConfig(t, fmt.Sprintf("node-%03d", i))
		cfg.Transport = tr
		cfg.Logger = nil
		// Gentler than fastConfig: dozens of nodes share two cores, and
		// the race detector slows every step several times.
		cfg.Timing.GossipInterval = 100 * time.Millisecond
		cfg.Timing.ProbeInterval = time.Second
		cfg.Timing.ProbeTimeout = 500 * time.Millisecond
		cfg.Timing.SuspicionMult = 4
		cfg.Timing.TCPTimeout = 5 * time.Second
		if tune != nil {
			tune(&cfg)
		}
		node, el := startNode(t, cfg)
		c.nodes = append(c.nodes, node)
		c.logs = append(c.logs, el)
		c.addrs = append(c.addrs, tr.Addr())
	}
	return c
}

// joinAll has every node join the first one, retrying for a while as an
// operator's retry-join would: under the race detector on a loaded machine a
// single push/pull can time out.
func (c *memCluster) joinAll(t *testing.T) {
	t.Helper()
	for i, n := range c.nodes[1:] {
		var err error
		for try := 0; try < 5; try++ {
			if _, err = n.Join(context.Background(), []string{c.addrs[0]}, false); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("node %d join: %v", i+1, err)
		}
	}
}

// converged returns "" when every node in nodes sees want[name] for every
// name in want (and nothing else with a different status).
func converged(nodes []*gossip.Node, want map[string]events.MemberStatus) string {
	for _, n := range nodes {
		if why := viewOf(n).expectStatus(n.Name(), want); why != "" {
			return why
		}
	}
	return ""
}

func statusAll(nodes []*gossip.Node, st events.MemberStatus) map[string]events.MemberStatus {
	want := map[string]events.MemberStatus{}
	for _, n := range nodes {
		want[n.Name()] = st
	}
	return want
}

// The 50-node tests do not run in parallel with each other: each keeps the
// two cores busy under the race detector.

func TestMemClusterConverges(t *testing.T) {
	c := startMemCluster(t, 50, nil)
	c.joinAll(t)
	waitFor(t, 60*time.Second, func() string { return converged(c.nodes, statusAll(c.nodes, events.StatusAlive)) })
}

func TestMemClusterPartitionHeals(t *testing.T) {
	c := startMemCluster(t, 50, nil)
	c.joinAll(t)
	all := statusAll(c.nodes, events.StatusAlive)
	waitFor(t, 60*time.Second, func() string { return converged(c.nodes, all) })

	left, right := c.nodes[:25], c.nodes[25:]
	c.net.Partition(c.addrs[:25], c.addrs[25:])
	// Each half sees itself alive and the other half failed.
	sides := func(mine, other []*gossip.Node) map[string]events.MemberStatus {
		want := statusAll(mine, events.StatusAlive)
		for k, v := range statusAll(other, events.StatusFailed) {
			want[k] = v
		}
		return want
	}
	waitFor(t, 60*time.Second, func() string {
		if why := converged(left, sides(left, right)); why != "" {
			return "left half: " + why
		}
		if why := converged(right, sides(right, left)); why != "" {
			return "right half: " + why
		}
		return ""
	})

	// After the heal the failed members are retried and everyone is alive
	// again, with no manual join.
	c.net.Heal()
	waitFor(t, 60*time.Second, func() string { return converged(c.nodes, all) })
}

// TestMemClusterLossNoFalseFailures: 20 nodes at LAN timings under 10%
// packet loss for 30 s declare no alive node failed.
func TestMemClusterLossNoFalseFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s observation window")
	}
	c := startMemCluster(t, 20, func(cfg *gossip.Config) {
		if err := cfg.SetProfile(gossip.ProfileLAN); err != nil {
			t.Fatal(err)
		}
	})
	c.joinAll(t)
	all := statusAll(c.nodes, events.StatusAlive)
	waitFor(t, 60*time.Second, func() string { return converged(c.nodes, all) })

	c.net.SetLoss(0.10)
	window := time.NewTimer(30 * time.Second)
	defer window.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-window.C:
			done = true
		case <-tick.C:
		}
		for i, l := range c.logs {
			if n := l.count(events.MemberFailed); n > 0 {
				t.Fatalf("node %d saw %d member-failed events under 10%% loss; want 0", i, n)
			}
		}
	}
	c.net.SetLoss(0)
	if st := c.net.Stats(); st.DroppedLoss == 0 {
		t.Errorf("network dropped no packets to loss; the fault was not applied")
	}
	waitFor(t, 10*time.Second, func() string { return converged(c.nodes, all) })
}

// TestMemClusterReap: a failed member is reaped after ReconnectTimeout and a
// left one after TombstoneTimeout, everywhere, with member-reap events.
func TestMemClusterReap(t *testing.T) {
	t.Parallel()
	c := startMemCluster(t, 4, func(cfg *gossip.Config) {
		cfg.ReapInterval = 200 * time.Millisecond
		cfg.ReconnectTimeout = 2 * time.Second
		cfg.TombstoneTimeout = 3 * time.Second
	})
	c.joinAll(t)
	waitFor(t, 20*time.Second, func() string { return converged(c.nodes, statusAll(c.nodes, events.StatusAlive)) })

	if err := c.nodes[3].Leave(context.Background()); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := c.nodes[3].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := c.nodes[2].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	alive := c.nodes[:2]
	// The events record the path: failed or left first, then reaped.
	waitFor(t, 30*time.Second, func() string {
		for _, n := range alive {
			if got := n.NumMembers(); got != 2 {
				return fmt.Sprintf("%s lists %d members; want 2 once both are reaped", n.Name(), got)
			}
		}
		for i := range alive {
			for _, want := range []struct {
				t    events.Type
				name string
			}{
				{events.MemberFailed, "node-002"}, {events.MemberLeave, "node-003"},
				{events.MemberReap, "node-002"}, {events.MemberReap, "node-003"},
			} {
				if why := c.logs[i].has(want.t, want.name); why != "" {
					return why
				}
			}
		}
		return ""
	})
}

func TestNodeLifecycleErrors(t *testing.T) {
	t.Parallel()
	c := startMemCluster(t, 2, nil)
	c.joinAll(t)
	n := c.nodes[0]
	ctx := context.Background()

	big := map[string]string{"blob": strings.Repeat("x", gossip.MaxTagsSize)}
	if err := n.SetTags(big); !errors.Is(err, gossip.ErrTagsTooLarge) {
		t.Errorf("SetTags(oversized) = %v; want ErrTagsTooLarge", err)
	}
	if err := n.ForceLeave(ctx, "nobody", false); !errors.Is(err, gossip.ErrUnknownMember) {
		t.Errorf("ForceLeave(unknown) = %v; want ErrUnknownMember", err)
	}
	if err := n.ForceLeave(ctx, n.Name(), false); err == nil {
		t.Errorf("ForceLeave(self) = nil; want an error")
	}
	if err := n.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := n.Leave(ctx); err != nil {
		t.Errorf("second Leave = %v; want nil (already left)", err)
	}
	if _, err := n.Join(ctx, []string{c.addrs[1]}, false); !errors.Is(err, gossip.ErrLeft) {
		t.Errorf("Join after Leave = %v; want ErrLeft", err)
	}
	for range 2 {
		if err := n.Shutdown(); err != nil {
			t.Errorf("Shutdown = %v; want nil (idempotent)", err)
		}
	}
	if _, err := gossip.New(gossip.Config{}); err == nil {
		t.Errorf("New(zero Config) = nil error; want validation errors")
	}
	bad := gossip.DefaultConfig()
	bad.Tags = big
	if _, err := gossip.New(bad); !errors.Is(err, gossip.ErrTagsTooLarge) {
		t.Errorf("New(oversized tags) = %v; want ErrTagsTooLarge", err)
	}
	if err := bad.SetProfile("moon"); err == nil {
		t.Errorf("SetProfile(moon) = nil; want an error")
	}
}

// TestShutdownLeavesNoGoroutines: after Shutdown (and closing the network)
// nothing the nodes started keeps running.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	net := memnet.New(memnet.Config{Seed: 2})
	var nodes []*gossip.Node
	for i := range 3 {
		tr := net.NewTransport()
		cfg := fastConfig(t, fmt.Sprintf("g-%d", i))
		cfg.Transport = tr
		cfg.Events = make(chan events.Event) // never read: the dispatcher must still stop
		n, err := gossip.Create(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := n.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	_ = net.Close()
	waitFor(t, 10*time.Second, func() string {
		if now := runtime.NumGoroutine(); now > before {
			return fmt.Sprintf("%d goroutines after shutdown; %d before", now, before)
		}
		return ""
	})
}
