package agent

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/agentd/agent/internal/testlog"
)

// startTestAgent starts an agent on 127.0.0.1 without Run.
func startTestAgent(t *testing.T, fc *FileConfig) *Agent {
	t.Helper()
	fc.BindAddr = strp("127.0.0.1:0")
	fc.Profile = strp("local")
	cfg, err := Resolve(fc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown() })
	return a
}

func aliveCount(a *Agent) int {
	n := 0
	for _, m := range a.Members() {
		if m.Status.String() == "alive" {
			n++
		}
	}
	return n
}

// TestDiscoverLoopJoinsAnnouncedMembers drives the discovery loop with a
// fake lookup that answers like mDNS: this node's own announcement among
// the others'.
func TestDiscoverLoopJoinsAnnouncedMembers(t *testing.T) {
	a := startTestAgent(t, &FileConfig{NodeName: strp("finder")})
	b := startTestAgent(t, &FileConfig{NodeName: strp("announcer")})
	asked := make(chan struct{}, 100)
	lookup := func(context.Context) ([]string, error) {
		asked <- struct{}{}
		return []string{a.Node().Addr(), b.Node().Addr()}, nil
	}
	if got := a.notMembers([]string{a.Node().Addr(), b.Node().Addr()}); len(got) != 1 || got[0] != b.Node().Addr() {
		t.Fatalf("notMembers = %v; want only the announcer", got)
	}
	a.goLoop(func() { a.discoverLoop(lookup, 50*time.Millisecond) })
	deadline := time.Now().Add(20 * time.Second)
	for aliveCount(a) != 2 || aliveCount(b) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("alive: finder %d, announcer %d; want 2 each", aliveCount(a), aliveCount(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once joined, later lookups join nobody new.
	<-asked
	<-asked
	if got := a.notMembers([]string{b.Node().Addr()}); len(got) != 0 {
		t.Errorf("a member is still offered for joining: %v", got)
	}
}

// TestDiscoverOverMDNS uses real multicast DNS on the machine's network,
// so it runs only with AGENT_TEST_MDNS=1.
func TestDiscoverOverMDNS(t *testing.T) {
	if os.Getenv("AGENT_TEST_MDNS") == "" {
		t.Skip("uses multicast on the local network; set AGENT_TEST_MDNS=1 to run")
	}
	rpcA, _, _ := runAgent(t, &FileConfig{NodeName: strp("mdns-a"), BindAddr: strp("0.0.0.0:0"), Discover: strp("agenttest")}, &testlog.Buffer{})
	runAgent(t, &FileConfig{NodeName: strp("mdns-b"), BindAddr: strp("0.0.0.0:0"), Discover: strp("agenttest")}, &testlog.Buffer{})
	waitAlive(t, rpcA, 2)
}
