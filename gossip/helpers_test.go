package gossip_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/internal/testlog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// testLogger routes logs to t.Log when -v is given, else discards them.
func testLogger(t testing.TB) *slog.Logger { return testlog.Logger(t) }

// fastConfig is a node config for tests on 127.0.0.1 with a free port and
// the local profile's quick timings.
func fastConfig(t testing.TB, name string) gossip.Config {
	cfg := gossip.DefaultConfig()
	cfg.NodeName = name
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = 0
	if err := cfg.SetProfile(gossip.ProfileLocal); err != nil {
		t.Fatal(err)
	}
	cfg.Timing.ProbeInterval = 200 * time.Millisecond
	cfg.Timing.ProbeTimeout = 100 * time.Millisecond
	cfg.Timing.GossipInterval = 20 * time.Millisecond
	cfg.Timing.PushPullInterval = 2 * time.Second
	cfg.BroadcastTimeout = 2 * time.Second
	cfg.LeavePropagateDelay = 200 * time.Millisecond
	cfg.ReapInterval = time.Second
	cfg.ReconnectInterval = time.Second
	cfg.Logger = testLogger(t)
	return cfg
}

// startNode creates a node and stops it when the test ends. Its events are
// collected by an eventLog.
func startNode(t testing.TB, cfg gossip.Config) (*gossip.Node, *eventLog) {
	t.Helper()
	ch := make(chan events.Event, 64)
	cfg.Events = ch
	n, err := gossip.Create(cfg)
	if err != nil {
		t.Fatalf("Create(%s): %v", cfg.NodeName, err)
	}
	el := newEventLog(ch)
	t.Cleanup(func() {
		if err := n.Shutdown(); err != nil {
			t.Errorf("Shutdown(%s): %v", cfg.NodeName, err)
		}
		el.stop()
	})
	return n, el
}

// startSerf creates a real Serf library node on 127.0.0.1 with quick timings.
func startSerf(t testing.TB, name string, tags map[string]string) *serf.Serf {
	t.Helper()
	return startSerfWith(t, name, tags, nil)
}

// startSerfWith is startSerf with a last change to the config (nil: none).
func startSerfWith(t testing.TB, name string, tags map[string]string, change func(*serf.Config)) *serf.Serf {
	t.Helper()
	conf := serf.DefaultConfig()
	conf.NodeName = name
	conf.Tags = tags
	conf.ProtocolVersion = 5
	conf.LogOutput = io.Discard
	if testing.Verbose() {
		conf.LogOutput = testlog.Writer(t)
	}
	conf.Logger = log.New(conf.LogOutput, "serf "+name+" ", 0)
	conf.BroadcastTimeout = 2 * time.Second
	conf.LeavePropagateDelay = 200 * time.Millisecond
	conf.ReapInterval = time.Second
	conf.ReconnectInterval = time.Second
	mc := memberlist.DefaultLocalConfig()
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = 0
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.PushPullInterval = 2 * time.Second
	mc.Logger = conf.Logger
	conf.MemberlistConfig = mc
	if change != nil {
		change(conf)
	}
	s, err := serf.Create(conf)
	if err != nil {
		t.Fatalf("serf.Create(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

func serfAddr(s *serf.Serf) string {
	ln := s.Memberlist().LocalNode()
	return fmt.Sprintf("%s:%d", ln.Addr, ln.Port)
}

// waitFor polls cond until it returns "" or the deadline passes; the last
// non-empty answer explains the failure.
func waitFor(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		if why = cond(); why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memberView is the name -> status/tags view a cluster member has.
type memberView map[string]events.Member

func viewOf(n *gossip.Node) memberView {
	v := memberView{}
	for _, m := range n.Members() {
		v[m.Name] = m
	}
	return v
}

func serfView(s *serf.Serf) memberView {
	v := memberView{}
	for _, m := range s.Members() {
		v[m.Name] = events.Member{Name: m.Name, Addr: m.Addr, Port: m.Port, Tags: m.Tags, Status: events.MemberStatus(m.Status)}
	}
	return v
}

// expectStatus returns "" when view holds every name in want with that status.
func (v memberView) expectStatus(who string, want map[string]events.MemberStatus) string {
	for name, st := range want {
		m, ok := v[name]
		if !ok {
			return fmt.Sprintf("%s: member %s missing (has %d members)", who, name, len(v))
		}
		if m.Status != st {
			return fmt.Sprintf("%s: member %s is %s; want %s", who, name, m.Status, st)
		}
	}
	return ""
}
