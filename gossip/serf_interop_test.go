package gossip_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/hashicorp/serf/serf"
)

// mixedCluster is two of our nodes and two Serf library nodes, joined in
// both directions: serf-1 joins ours-1, ours-2 joins serf-1, serf-2 joins ours-2.
type mixedCluster struct {
	ours  []*gossip.Node
	logs  []*eventLog
	serfs []*serf.Serf
}

func startMixedCluster(t *testing.T) *mixedCluster {
	t.Helper()
	c := &mixedCluster{}
	for i := 1; i <= 2; i++ {
		cfg := fastConfig(t, fmt.Sprintf("ours-%d", i))
		cfg.Tags = map[string]string{"role": "web", "impl": "ours"}
		n, el := startNode(t, cfg)
		c.ours = append(c.ours, n)
		c.logs = append(c.logs, el)
		c.serfs = append(c.serfs, startSerf(t, fmt.Sprintf("serf-%d", i), map[string]string{"role": "db", "impl": "serf"}))
	}
	ctx := context.Background()
	if _, err := c.serfs[0].Join([]string{c.ours[0].Addr()}, false); err != nil {
		t.Fatalf("serf-1 join ours-1: %v", err)
	}
	if _, err := c.ours[1].Join(ctx, []string{serfAddr(c.serfs[0])}, false); err != nil {
		t.Fatalf("ours-2 join serf-1: %v", err)
	}
	if _, err := c.serfs[1].Join([]string{c.ours[1].Addr()}, false); err != nil {
		t.Fatalf("serf-2 join ours-2: %v", err)
	}
	c.waitAll(t, "all alive", map[string]events.MemberStatus{
		"ours-1": events.StatusAlive, "ours-2": events.StatusAlive,
		"serf-1": events.StatusAlive, "serf-2": events.StatusAlive,
	}, nil)
	return c
}

// waitAll waits until every node, ours and Serf's, sees want, skipping the
// nodes named in skip (stopped ones).
func (c *mixedCluster) waitAll(t *testing.T, what string, want map[string]events.MemberStatus, skip map[string]bool) {
	t.Helper()
	waitFor(t, 15*time.Second, func() string {
		for _, n := range c.ours {
			if skip[n.Name()] {
				continue
			}
			if why := viewOf(n).expectStatus(n.Name(), want); why != "" {
				return what + ": " + why
			}
		}
		for _, s := range c.serfs {
			if skip[s.LocalMember().Name] {
				continue
			}
			if why := serfView(s).expectStatus(s.LocalMember().Name, want); why != "" {
				return what + ": " + why
			}
		}
		return ""
	})
}

func TestSerfInteropJoinAndTags(t *testing.T) {
	c := startMixedCluster(t)

	// Every node sees everyone's tags as set.
	wantTags := map[string]map[string]string{
		"ours-1": {"role": "web", "impl": "ours"}, "ours-2": {"role": "web", "impl": "ours"},
		"serf-1": {"role": "db", "impl": "serf"}, "serf-2": {"role": "db", "impl": "serf"},
	}
	checkTags := func() string {
		views := map[string]memberView{}
		for _, n := range c.ours {
			views[n.Name()] = viewOf(n)
		}
		for _, s := range c.serfs {
			views[s.LocalMember().Name] = serfView(s)
		}
		for who, v := range views {
			for name, tags := range wantTags {
				if !maps.Equal(v[name].Tags, tags) {
					return fmt.Sprintf("%s sees %s tags %v; want %v", who, name, v[name].Tags, tags)
				}
			}
		}
		return ""
	}
	waitFor(t, 10*time.Second, checkTags)

	// A tag change on our side reaches Serf, and one on Serf's side reaches us.
	wantTags["ours-1"] = map[string]string{"role": "lb", "version": "42"}
	if err := c.ours[0].SetTags(wantTags["ours-1"]); err != nil {
		t.Fatalf("SetTags: %v", err)
	}
	wantTags["serf-2"] = map[string]string{"role": "cache"}
	if err := c.serfs[1].SetTags(wantTags["serf-2"]); err != nil {
		t.Fatalf("serf SetTags: %v", err)
	}
	waitFor(t, 10*time.Second, checkTags)
	for i, l := range c.logs {
		waitFor(t, 5*time.Second, func() string {
			if why := l.has(events.MemberUpdate, "serf-2"); why != "" {
				return fmt.Sprintf("ours-%d: %s", i+1, why)
			}
			return ""
		})
	}
}

func TestSerfInteropGracefulLeave(t *testing.T) {
	c := startMixedCluster(t)
	ctx := context.Background()

	// One of ours leaves: everyone else sees it left, not failed.
	if err := c.ours[1].Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := c.ours[1].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	gone := map[string]bool{"ours-2": true}
	c.waitAll(t, "after ours-2 left", map[string]events.MemberStatus{"ours-2": events.StatusLeft}, gone)

	// A Serf node leaves: we see it left too.
	if err := c.serfs[1].Leave(); err != nil {
		t.Fatalf("serf Leave: %v", err)
	}
	if err := c.serfs[1].Shutdown(); err != nil {
		t.Fatalf("serf Shutdown: %v", err)
	}
	gone["serf-2"] = true
	c.waitAll(t, "after serf-2 left", map[string]events.MemberStatus{
		"ours-2": events.StatusLeft, "serf-2": events.StatusLeft,
		"ours-1": events.StatusAlive, "serf-1": events.StatusAlive,
	}, gone)
	if why := c.logs[0].has(events.MemberLeave, "serf-2"); why != "" {
		t.Errorf("ours-1: %s", why)
	}
	if why := c.logs[0].has(events.MemberFailed, "ours-2"); why == "" {
		t.Errorf("ours-1 saw ours-2 fail; a graceful leave must not look like a failure")
	}
}

func TestSerfInteropFailureAndForceLeave(t *testing.T) {
	c := startMixedCluster(t)
	ctx := context.Background()

	// A Serf node and one of ours stop without leaving: both seen as failed.
	if err := c.serfs[1].Shutdown(); err != nil {
		t.Fatalf("serf Shutdown: %v", err)
	}
	if err := c.ours[1].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	gone := map[string]bool{"serf-2": true, "ours-2": true}
	c.waitAll(t, "after abrupt stops", map[string]events.MemberStatus{
		"serf-2": events.StatusFailed, "ours-2": events.StatusFailed,
	}, gone)
	if why := c.logs[0].has(events.MemberFailed, "serf-2"); why != "" {
		t.Errorf("ours-1: %s", why)
	}

	// Force-leave from our side moves the failed Serf node to left on Serf too.
	if err := c.ours[0].ForceLeave(ctx, "serf-2", false); err != nil {
		t.Fatalf("ForceLeave(serf-2): %v", err)
	}
	c.waitAll(t, "after force-leave", map[string]events.MemberStatus{"serf-2": events.StatusLeft}, gone)

	// Prune erases the other failed node everywhere at once.
	if err := c.ours[0].ForceLeave(ctx, "ours-2", true); err != nil {
		t.Fatalf("ForceLeave(ours-2, prune): %v", err)
	}
	waitFor(t, 10*time.Second, func() string {
		if _, ok := viewOf(c.ours[0])["ours-2"]; ok {
			return "ours-1 still lists pruned ours-2"
		}
		if _, ok := serfView(c.serfs[0])["ours-2"]; ok {
			return fmt.Sprintf("serf-1 still lists pruned ours-2 as %s", serfView(c.serfs[0])["ours-2"].Status)
		}
		return ""
	})
	if why := c.logs[0].has(events.MemberReap, "ours-2"); why != "" {
		t.Errorf("ours-1: %s", why)
	}
}
