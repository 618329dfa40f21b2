package memnet

import (
	"fmt"
	"log"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// testLogWriter forwards memberlist's [ERR] lines to t.Log until the test
// ends; memberlist goroutines may still log after Shutdown returns.
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newTestLogger(t *testing.T) *log.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return log.New(w, "", log.Lmicroseconds)
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), "[ERR]") {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// fastTimings shortens memberlist.DefaultLocalConfig's timers so that a
// small cluster on the wall clock detects a partition in about 2 s instead
// of 10 to 30 s, and heals gaps in gossip by push/pull every 2 s instead of
// every 15 s (memberlist scales that interval up past 32 nodes).
func fastTimings(c *memberlist.Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 40 * time.Millisecond
	c.SuspicionMaxTimeoutMult = 2
	c.RetransmitMult = 4
	c.PushPullInterval = 2 * time.Second
}

// scenario is a cluster run: n nodes join, split in two halves, heal.
type scenario struct {
	nodes   int
	tune    func(*memberlist.Config) // applied to DefaultLocalConfig; may be nil
	timeout time.Duration            // for each phase to converge
}

// run starts the nodes on nw, joins each to the first node, waits until all
// see everyone, partitions the cluster in halves and waits until each node
// sees exactly its half, heals, joins every node to one across the old cut
// and waits until all see everyone again. It shuts every node down and
// closes nw before returning.
//
// Members and NumMembers list alive and suspect nodes, so a half is seen
// only once the other half is declared dead: after a suspicion timeout
// between SuspicionMult*log10(n)*ProbeInterval and SuspicionMaxTimeoutMult
// times that, shortened by independent confirmations.
func (sc scenario) run(t *testing.T, nw *Network) {
	n := sc.nodes
	ms := make([]*memberlist.Memberlist, n)
	addrs := make([]string, n)
	logger := newTestLogger(t)
	defer func() {
		for _, m := range ms {
			if m != nil {
				m.Shutdown()
			}
		}
		nw.Close()
	}()
	for i := range ms {
		tr := nw.NewTransport()
		cfg := memberlist.DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("node-%04d", i)
		cfg.Transport = tr
		cfg.Logger = logger
		if sc.tune != nil {
			sc.tune(cfg)
		}
		m, err := memberlist.Create(cfg)
		mustOK(t, err, "memberlist.Create")
		ms[i], addrs[i] = m, tr.Addr()
	}

	start := time.Now()
	for i, m := range ms[1:] {
		if _, err := m.Join(addrs[:1]); err != nil {
			t.Fatalf("node %d: Join(%s) = %v", i+1, addrs[0], err)
		}
	}
	waitMembers(t, ms, func(int) int { return n }, sc.timeout, "after join")
	t.Logf("%d nodes converged in %v", n, time.Since(start))

	start = time.Now()
	half := n / 2
	nw.Partition(addrs[:half], addrs[half:])
	side := func(i int) []string {
		if i < half {
			return addrs[:half]
		}
		return addrs[half:]
	}
	waitMembers(t, ms, func(i int) int { return len(side(i)) }, sc.timeout, "partitioned in halves")
	t.Logf("each half saw only itself after %v", time.Since(start))
	// Only Name is read: memberlist keeps updating the other fields of the
	// *Node values Members returns, so reading them would race.
	for i, m := range ms {
		for _, node := range m.Members() {
			var j int
			if _, err := fmt.Sscanf(node.Name, "node-%04d", &j); err != nil || !slices.Contains(side(i), addrs[j]) {
				t.Errorf("node %d: Members() includes %s across the partition", i, node.Name)
			}
		}
	}

	start = time.Now()
	nw.Heal()
	// Every node joins one across the old cut and so learns at once that
	// the other half declared it dead, and refutes it. After a single Join
	// the others would wait for gossip to the dead or a periodic push/pull.
	for i, m := range ms {
		peer := addrs[(i+half)%n]
		if _, err := m.Join([]string{peer}); err != nil {
			t.Fatalf("node %d: Join(%s) after Heal = %v", i, peer, err)
		}
	}
	waitMembers(t, ms, func(int) int { return n }, sc.timeout, "after heal and rejoin")
	t.Logf("reconverged in %v; %+v", time.Since(start), nw.Stats())
}

// waitMembers polls until every node i sees exactly want(i) members.
func waitMembers(t *testing.T, ms []*memberlist.Memberlist, want func(i int) int, timeout time.Duration, what string) {
	t.Helper()
	eventually(t, timeout, func() bool {
		for i, m := range ms {
			if m.NumMembers() != want(i) {
				return false
			}
		}
		return true
	}, func() string {
		var bad []string
		for i, m := range ms {
			if got := m.NumMembers(); got != want(i) {
				bad = append(bad, fmt.Sprintf("node %d: %d, want %d", i, got, want(i)))
			}
		}
		return fmt.Sprintf("%s: NumMembers() = %s", what, strings.Join(bad, "; "))
	})
}

// TestMemberlistPartitionAndHeal runs 10 memberlist nodes on the wall clock,
// then checks that none of their goroutines, nor memnet's, is left.
func TestMemberlistPartitionAndHeal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs memberlist for a few seconds")
	}
	baseline := runtime.NumGoroutine()
	scenario{nodes: 10, tune: fastTimings, timeout: 15 * time.Second}.run(t, New(Config{Seed: 1}))
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= baseline },
		func() string {
			buf := make([]byte, 1<<16)
			return fmt.Sprintf("goroutines = %d; want <= %d\n%s", runtime.NumGoroutine(), baseline,
				buf[:runtime.Stack(buf, true)])
		})
}
