package agent

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/internal/testlog"
	"github.com/agentd/agent/rpc"
)

// runAgent runs the daemon in-process and returns its addresses and a
// stop function (no leave) that waits for Run to return.
func runAgent(t *testing.T, fc *FileConfig, logs *testlog.Buffer) (rpcAddr, gossipAddr string, stop func()) {
	t.Helper()
	if fc.BindAddr == nil {
		fc.BindAddr = strp("127.0.0.1:0")
	}
	fc.RPCAddr = strp("127.0.0.1:0")
	fc.Profile = strp("local")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, RunOptions{Flags: fc, Stderr: logs, Ready: func(r, g string) { ready <- [2]string{r, g} }})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-errc:
			case <-time.After(20 * time.Second):
				t.Errorf("Run(%s) did not return after cancel", *fc.NodeName)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addrs := <-ready:
		return addrs[0], addrs[1], stop
	case err := <-errc:
		t.Fatalf("Run(%s) = %v before ready", *fc.NodeName, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("Run(%s) not ready within 20s", *fc.NodeName)
	}
	return "", "", nil
}

func freeGossipAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitAlive polls the agent at rpcAddr until it lists want alive members.
func waitAlive(t *testing.T, rpcAddr string, want int) {
	t.Helper()
	c, err := rpc.Dial(context.Background(), rpcAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ms, err := c.Members(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		alive := 0
		for _, m := range ms {
			if m.Status == events.StatusAlive {
				alive++
			}
		}
		if alive == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent at %s lists %d alive members; want %d", rpcAddr, alive, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRetryJoinWaitsForALateSeed(t *testing.T) {
	seedAddr := freeGossipAddr(t)
	var logs testlog.Buffer
	_, seedPort, _ := net.SplitHostPort(seedAddr)
	// By name: resolved on every try (to 127.0.0.1, and ::1 where present).
	rpcA, _, _ := runAgent(t, &FileConfig{NodeName: strp("early"), RetryJoin: []string{"localhost:" + seedPort},
		RetryInterval: &Duration{Duration: 100 * time.Millisecond}}, &logs)
	// The seed comes up only after a try has failed.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "retry join: no address answered") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed retry logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	runAgent(t, &FileConfig{NodeName: strp("seed"), BindAddr: strp(seedAddr)}, &testlog.Buffer{})
	waitAlive(t, rpcA, 2)
}

func TestRetryJoinGivesUp(t *testing.T) {
	fc := &FileConfig{NodeName: strp("alone"), BindAddr: strp("127.0.0.1:0"), RPCAddr: strp("127.0.0.1:0"),
		Profile: strp("local"), RetryJoin: []string{freeGossipAddr(t)},
		RetryInterval: &Duration{Duration: 50 * time.Millisecond}, RetryMaxAttempts: intp(2)}
	errc := make(chan error, 1)
	go func() { errc <- Run(context.Background(), RunOptions{Flags: fc, Stderr: &testlog.Buffer{}}) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts") {
			t.Fatalf("Run = %v; want it to give up after 2 attempts", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not give up")
	}
}

// TestHealLoopRejoinsAMissingMember: a member that failed and came back
// without any join, which the survivor neither gossips to nor retries
// (gossip to the dead and reconnects are off), is brought back by the
// survivor joining its seeds again.
func TestHealLoopRejoinsAMissingMember(t *testing.T) {
	bAddr := freeGossipAddr(t)
	host, portStr, _ := net.SplitHostPort(bAddr)
	port, _ := strconv.Atoi(portStr)
	tune := func(c *gossip.Config) {
		c.Timing.ProbeInterval = 100 * time.Millisecond
		c.Timing.ProbeTimeout = 50 * time.Millisecond
		c.Timing.SuspicionMult = 2
		c.Timing.GossipToTheDeadTime = 0
		c.ReconnectInterval = time.Hour
	}
	start := func(name string, bindPort int, seeds []string) *Agent {
		t.Helper()
		cfg, err := Resolve(&FileConfig{NodeName: strp(name), BindAddr: strp(net.JoinHostPort(host, strconv.Itoa(bindPort))),
			Profile: strp("local"), StartJoin: seeds, RetryInterval: &Duration{Duration: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, nil, tune)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Shutdown() })
		if err := a.JoinAtStart(context.Background()); err != nil {
			t.Fatal(err)
		}
		a.startJoinLoops()
		return a
	}
	aliveIn := func(a *Agent, name string) bool {
		for _, m := range a.Members() {
			if m.Name == name {
				return m.Status == events.StatusAlive
			}
		}
		return false
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b := start("b", port, nil)
	a := start("a", 0, []string{bAddr})
	waitUntil("a and b never saw each other", func() bool { return aliveIn(a, "b") && aliveIn(b, "a") })
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitUntil("a never saw b fail", func() bool { return !aliveIn(a, "b") })
	b2 := start("b", port, nil)
	waitUntil("b came back but a did not rejoin it", func() bool { return aliveIn(a, "b") && aliveIn(b2, "a") })
}

func intp(v int) *int { return &v }
