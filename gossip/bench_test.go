package gossip_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Convergence benchmark limits.
const (
	convergePoll = 10 * time.Millisecond
	// convergeDeadline covers the slow path: a node that gossip missed
	// learns the member from a push/pull, and memberlist's first one comes
	// a random stagger (< 30 s) plus 30 s x 4 = 120 s after start at N=200.
	convergeDeadline = 180 * time.Second
	// mostPairs is the share of (observer, member) pairs seen alive that
	// counts as "gossip converged", before any straggler.
	mostPairs = 0.999
	// The heap is sampled every heapSample for heapSettle after convergence
	// and the least sample kept: at convergence the join burst's broadcast
	// queues and in-flight packet work (lzw tables, decoders on the stacks
	// of runnable goroutines) can double the figure or more.
	heapSample = 500 * time.Millisecond
	heapSettle = 5 * time.Second
	// leakDeadline bounds the wait for every goroutine to exit after
	// teardown. memberlist's probe goroutines outlive Shutdown until their
	// ack timer fires, which takes seconds.
	leakDeadline = 30 * time.Second
	// releaseDeadline bounds the wait, after teardown, for the heap to fall
	// back to its level before the cluster, so the next cluster's baseline
	// holds nothing of this one: memberlist's pending timers (probe acks,
	// suspicions) keep a shut-down node reachable until they fire.
	// releaseSlack allows for what stays once used: package state (codec
	// caches and the like) and goroutine descriptors beyond warmGoroutines.
	releaseDeadline = 60 * time.Second
	releaseSlack    = 1 << 20
	// joinTries is how often a join is attempted: on a loaded machine a
	// dial to node 0 can time out.
	joinTries = 3
)

// benchNode is one cluster member under benchmark, ours or Serf's.
type benchNode interface {
	// join contacts the node at addr.
	join(ctx context.Context, addr string) error
	// statuses returns the status of every member the node knows.
	statuses() map[string]string
	// alive returns how many members, itself included, the node sees alive.
	alive() int
	// shutdown stops the node without a leave.
	shutdown() error
}

// implementation starts one node on a memnet transport.
type implementation struct {
	name  string
	start func(name string, tr *memnet.Transport) (benchNode, error)
}

// ours and serfLib both run memberlist's LAN timings and their own
// defaults (Serf's values) for everything else, with logs discarded.
var (
	ours = implementation{name: "ours", start: func(name string, tr *memnet.Transport) (benchNode, error) {
		cfg := gossip.DefaultConfig()
		if err := cfg.SetProfile(gossip.ProfileLAN); err != nil {
			return nil, err
		}
		cfg.NodeName = name
		cfg.Transport = tr
		cfg.Logger = nil
		n, err := gossip.Create(cfg)
		if err != nil {
			return nil, err
		}
		return oursNode{n}, nil
	}}
	serfLib = implementation{name: "serf", start: func(name string, tr *memnet.Transport) (benchNode, error) {
		conf := serf.DefaultConfig()
		conf.NodeName = name // serf.Create copies it to MemberlistConfig.Name
		conf.ProtocolVersion = 5
		conf.LogOutput = io.Discard
		conf.Logger = log.New(io.Discard, "", 0)
		mc := memberlist.DefaultLANConfig()
		mc.Transport = tr
		mc.Logger = conf.Logger
		conf.MemberlistConfig = mc
		s, err := serf.Create(conf)
		if err != nil {
			return nil, err
		}
		return serfNode{s}, nil
	}}
)

type oursNode struct{ n *gossip.Node }

func (o oursNode) join(ctx context.Context, addr string) error {
	_, err := o.n.Join(ctx, []string{addr}, false)
	return err
}

func (o oursNode) statuses() map[string]string {
	v := map[string]string{}
	for _, m := range o.n.Members() {
		v[m.Name] = m.Status.String()
	}
	return v
}

func (o oursNode) alive() int {
	c := 0
	for _, m := range o.n.Members() {
		if m.Status == events.StatusAlive {
			c++
		}
	}
	return c
}

func (o oursNode) shutdown() error { return o.n.Shutdown() }

type serfNode struct{ s *serf.Serf }

func (s serfNode) join(_ context.Context, addr string) error {
	_, err := s.s.Join([]string{addr}, false)
	return err
}

func (s serfNode) statuses() map[string]string {
	v := map[string]string{}
	for _, m := range s.s.Members() {
		v[m.Name] = m.Status.String()
	}
	return v
}

func (s serfNode) alive() int {
	c := 0
	for _, m := range s.s.Members() {
		if m.Status == serf.StatusAlive {
			c++
		}
	}
	return c
}

func (s serfNode) shutdown() error { return s.s.Shutdown() }

// clusterResult is what one cluster measured; BenchmarkConvergence sums
// them over iterations.
type clusterResult struct {
	converge    time.Duration // first join to every node seeing every node alive
	most        time.Duration // first join to mostPairs of the pairs alive
	heap        float64       // settled live heap per node, bytes
	heapFirst   float64       // live heap per node at convergence, bytes
	packets     uint64        // packets sent on the network until convergence
	shutdown    time.Duration // closing the network and shutting every node down
	joinRetries int           // joins that failed and were tried again
}

func (r *clusterResult) add(x clusterResult) {
	r.converge += x.converge
	r.most += x.most
	r.heap += x.heap
	r.heapFirst += x.heapFirst
	r.packets += x.packets
	r.shutdown += x.shutdown
	r.joinRetries += x.joinRetries
}

// BenchmarkConvergence builds clusters of our nodes and of Serf library
// nodes on the in-memory network with LAN timings, and compares how long
// they take to converge and how much heap a node holds. Figures, not
// pass/fail:
//
//	go test -run '^$' -bench Convergence -benchtime 1x ./gossip/
//
// The timer (ns/op) covers both clusters' joins and convergence only.
// Full convergence is bimodal: often gossip misses one (observer, member)
// pair, mostly an early joiner missing a later one, which then waits for
// memberlist's first push/pull, a minute at N=50 and two at N=200, in
// either implementation. ours-gossip-s and serf-gossip-s (99.9% of pairs)
// leave that out.
func BenchmarkConvergence(b *testing.B) {
	// A first cluster of each kind, so that state a package sets up once
	// (codec caches and the like) is not counted against the first one
	// measured; likewise goroutine descriptors.
	b.StopTimer()
	for _, impl := range []implementation{ours, serfLib} {
		measureCluster(b, impl, 2, 0)
	}
	warmGoroutines(10000)
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var o, s clusterResult
			for range b.N {
				b.StopTimer()
				o.add(runCluster(b, ours, n))
				s.add(runCluster(b, serfLib, n))
			}
			avg := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
			perKB := func(bytes float64) float64 { return bytes / float64(b.N) / 1024 }
			oc, sc := avg(o.converge), avg(s.converge)
			oh, sh := perKB(o.heap), perKB(s.heap)
			b.ReportMetric(oc, "ours-converge-s")
			b.ReportMetric(sc, "serf-converge-s")
			b.ReportMetric(oc/sc, "converge-ratio")
			b.ReportMetric(oh, "ours-heap-KB/node")
			b.ReportMetric(sh, "serf-heap-KB/node")
			b.ReportMetric(oh/sh, "heap-ratio")
			// Full convergence often waits for one pair's push/pull; the
			// gossip figures show the epidemic without that straggler.
			om, sm := avg(o.most), avg(s.most)
			b.ReportMetric(om, "ours-gossip-s")
			b.ReportMetric(sm, "serf-gossip-s")
			b.Logf("N=%d: converge ours %.2fs serf %.2fs (x%.2f), %.1f%% of pairs ours %.2fs serf %.2fs; "+
				"heap ours %.0f serf %.0f KB/node (x%.2f), at convergence %.0f / %.0f; "+
				"packets/node ours %.0f serf %.0f; shutdown ours %.3fs serf %.3fs; join retries ours %d serf %d",
				n, oc, sc, oc/sc, mostPairs*100, om, sm,
				oh, sh, oh/sh, perKB(o.heapFirst), perKB(s.heapFirst),
				float64(o.packets)/float64(b.N*n), float64(s.packets)/float64(b.N*n),
				avg(o.shutdown), avg(s.shutdown), o.joinRetries, s.joinRetries)
		})
	}
}

// warmGoroutines starts n goroutines and lets them end. The runtime keeps
// the descriptors of ended goroutines for reuse and never frees them, so
// without this the first cluster to reach a new peak goroutine count would
// be charged for them (some 2 MB at N=200).
func warmGoroutines(n int) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Go(func() { <-release })
	}
	close(release)
	wg.Wait()
}

// runCluster measures one cluster of n nodes of impl (see measureCluster)
// and then waits until its memory is released.
func runCluster(b *testing.B, impl implementation, n int) clusterResult {
	b.Helper()
	base := liveHeap()
	res := measureCluster(b, impl, n, heapSettle)
	awaitRelease(b, impl.name, base)
	return res
}

// measureCluster starts n nodes of impl on a fresh network, times nodes
// 1..n-1 joining node 0 one after another until convergence, samples the
// heap for settle, and tears everything down. The timer must be stopped on
// entry; it runs only from the first join to convergence. The heap baseline
// is taken once the network and its transports exist (their packet queues
// are some 34 KB each), so the figure is the nodes' own.
func measureCluster(b *testing.B, impl implementation, n int, settle time.Duration) (res clusterResult) {
	b.Helper()
	goroutines := runtime.NumGoroutine()
	nw := memnet.New(memnet.Config{Seed: 1})
	trs := make([]*memnet.Transport, n)
	names := make([]string, n)
	for i := range trs {
		trs[i] = nw.NewTransport()
		names[i] = fmt.Sprintf("node-%03d", i)
	}
	before := liveHeap()

	nodes := make([]benchNode, 0, n)
	defer func() { res.shutdown = teardown(b, impl.name, nodes, nw, goroutines) }()
	for i, tr := range trs {
		nd, err := impl.start(names[i], tr)
		if err != nil {
			b.Fatalf("%s: start %s: %v", impl.name, names[i], err)
		}
		nodes = append(nodes, nd)
	}

	b.StartTimer()
	start := time.Now()
	for i, nd := range nodes[1:] {
		for try := 1; ; try++ {
			err := nd.join(b.Context(), trs[0].Addr())
			if err == nil {
				break
			}
			if try == joinTries {
				b.Fatalf("%s: %s join %s, try %d: %v", impl.name, names[i+1], trs[0].Addr(), try, err)
			}
			res.joinRetries++
		}
	}
	most, why := waitConverged(nodes, names, start)
	if why != "" {
		b.Fatalf("%s N=%d: not converged %s after the first join: %s", impl.name, n, convergeDeadline, why)
	}
	res.converge, res.most = time.Since(start), most
	b.StopTimer()

	res.packets = nw.Stats().PacketsSent
	perNode := func(heap uint64) float64 { return float64(int64(heap)-int64(before)) / float64(n) }
	first := liveHeap()
	least := first
	for range settle / heapSample {
		time.Sleep(heapSample)
		least = min(least, liveHeap())
	}
	res.heapFirst, res.heap = perNode(first), perNode(least)
	return res
}

// liveHeap returns the bytes of heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitConverged polls until every node sees every node alive, or returns
// why not at the deadline. It also returns when mostPairs of the n x n
// (observer, member) pairs were first alive: gossip gets there, while a
// pair it missed waits for a push/pull. Each poll asks only the nodes not
// yet converged; once none is left a full pass confirms (a member may have
// been declared failed meanwhile). Both implementations pay the same.
func waitConverged(nodes []benchNode, names []string, start time.Time) (most time.Duration, why string) {
	n := len(nodes)
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	tick := time.NewTicker(convergePoll)
	defer tick.Stop()
	deadline := start.Add(convergeDeadline)
	for {
		rest, seen := pending[:0], (n-len(pending))*n
		for _, i := range pending {
			a := nodes[i].alive()
			seen += a
			if a != n {
				rest = append(rest, i)
			}
		}
		pending = rest
		if most == 0 && float64(seen) >= mostPairs*float64(n*n) {
			most = time.Since(start)
		}
		if len(pending) == 0 {
			for i, nd := range nodes {
				if nd.alive() != n {
					pending = append(pending, i)
				}
			}
			if len(pending) == 0 {
				return most, ""
			}
		}
		if time.Now().After(deadline) {
			return most, lagging(nodes, names, pending)
		}
		<-tick.C
	}
}

// lagging describes the nodes in pending and, for the first few, which
// members they miss or see in another state.
func lagging(nodes []benchNode, names []string, pending []int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d of %d nodes do not see every node alive", len(pending), len(nodes))
	for _, i := range pending[:min(len(pending), 5)] {
		st := nodes[i].statuses()
		var odd []string
		for _, name := range names {
			if s, ok := st[name]; !ok {
				odd = append(odd, name+"=missing")
			} else if s != "alive" {
				odd = append(odd, name+"="+s)
			}
		}
		fmt.Fprintf(&sb, "; %s sees %s", names[i], strings.Join(odd[:min(len(odd), 10)], " "))
		if len(odd) > 10 {
			fmt.Fprintf(&sb, " and %d more", len(odd)-10)
		}
	}
	return sb.String()
}

// teardown closes the network, shuts every node down in parallel, and
// waits for the goroutine count to fall back to what it was before the
// cluster, logging if it does not. It returns how long closing and shutting
// down took. The network goes first: with every transport dead at once, no
// node sees a peer vanish and starts a suspicion timer, which would keep
// its memory reachable for up to a minute.
func teardown(b *testing.B, impl string, nodes []benchNode, nw *memnet.Network, goroutines int) time.Duration {
	b.Helper()
	start := time.Now()
	if err := nw.Close(); err != nil {
		b.Errorf("%s: close network: %v", impl, err)
	}
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Go(func() {
			if err := nd.shutdown(); err != nil {
				b.Errorf("%s: shutdown: %v", impl, err)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)

	deadline := time.Now().Add(leakDeadline)
	for runtime.NumGoroutine() > goroutines {
		if time.Now().After(deadline) {
			b.Logf("%s: %d goroutines still running %s after shutdown; %d before the cluster",
				impl, runtime.NumGoroutine(), leakDeadline, goroutines)
			break
		}
		time.Sleep(convergePoll)
	}
	return took
}

// awaitRelease waits until the live heap is back within releaseSlack of
// base, logging if it is not within releaseDeadline.
func awaitRelease(b *testing.B, impl string, base uint64) {
	b.Helper()
	deadline := time.Now().Add(releaseDeadline)
	for h := liveHeap(); h > base+releaseSlack; h = liveHeap() {
		if time.Now().After(deadline) {
			b.Logf("%s: heap still %d KB above its level before the cluster %s after shutdown",
				impl, (h-base)/1024, releaseDeadline)
			return
		}
		time.Sleep(heapSample)
	}
}
