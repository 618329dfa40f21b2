//go:build !race

package gossip_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/agentd/agent/internal/bench"
)

// ScaleOptions configures RunScale.
type ScaleOptions struct {
	// Nodes is how many nodes run in the process.
	Nodes int
	// Converge bounds the protocol time allowed for every node to list
	// every other one.
	Converge time.Duration
	// Settle is protocol time left to pass after convergence, so the
	// repair push/pulls are over before the idle span; the span also waits
	// until every node's broadcast queues are empty.
	Settle time.Duration
	// Idle is the span of protocol time over which idle CPU and traffic
	// are measured.
	Idle time.Duration
	// ProfileDir, if set, receives cpu.pprof (the idle span),
	// heap-idle-start.pprof and heap.pprof (live heap before and after
	// the idle span; pprof -base of the two shows the idle allocations).
	ProfileDir string
	// Tune, if set, changes each node's configuration.
	Tune func(*gossip.Config)
}

// ScaleResult is what RunScale measured.
type ScaleResult struct {
	Converged    time.Duration // protocol time until all see all (or Converge)
	ConvergeWall time.Duration // wall time of the same
	Settled      time.Duration // protocol time until the idle span began
	HeapPerNode  float64       // live heap after the idle span, bytes per node
	StackPerNode float64       // goroutine stacks, bytes per node
	Goroutines   int           // goroutines per node (rounded)
	IdleCPU      time.Duration // process CPU per second of protocol time, idle
	IdleWall     time.Duration // wall time of the idle span
	PacketBytes  float64       // packet bytes sent per node per protocol second, idle
	StreamBytes  float64       // stream bytes written per node per protocol second, idle
	PushPulls    float64       // streams opened per node per protocol second, idle
}

// RunScale runs opt.Nodes nodes (LAN timings, in-memory network, inside a
// synctest bubble) that all join node 0 at once, waits until every node
// lists every other one, lets the cluster settle, and measures process
// CPU, traffic and live heap while it idles.
func RunScale(t *testing.T, opt ScaleOptions) ScaleResult {
	return runScale(t, opt, func(t *testing.T, nw *memnet.Network) scaleCluster {
		return ourCluster(newSimNodes(t, nw, opt.Nodes, "node-%04d", tuneEach(opt.Tune)))
	})
}

// scaleCluster is a cluster runScale measures: our nodes, or memberlist
// by itself.
type scaleCluster interface {
	// converge joins every node and returns once each lists all the
	// others, or once limit has passed.
	converge(t *testing.T, limit time.Duration)
	// settled reports whether the join's broadcasts have all been sent;
	// since is how long ago the cluster converged.
	settled(since time.Duration) bool
	// allSee reports whether every node lists every node.
	allSee() bool
	shutdown()
}

// ourCluster is a cluster of our nodes.
type ourCluster []*gossip.Node

func (c ourCluster) converge(t *testing.T, limit time.Duration) { joinAtOnce(t, c, limit) }
func (c ourCluster) settled(time.Duration) bool                 { return queuesEmpty(c) }
func (c ourCluster) allSee() bool                               { return allSee(c, len(c)) }
func (c ourCluster) shutdown() {
	for _, nd := range c {
		_ = nd.Shutdown()
	}
}

// runScale builds a cluster of opt.Nodes on an in-memory network inside a
// synctest bubble, lets it converge and settle, and measures it idle.
func runScale(t *testing.T, opt ScaleOptions, build func(*testing.T, *memnet.Network) scaleCluster) ScaleResult {
	var res ScaleResult
	prof := newCPUProfiler(t, opt.ProfileDir)
	synctest.Test(t, func(t *testing.T) {
		base := liveHeap()
		nw := memnet.New(memnet.Config{Seed: 11})
		nw.SetDelay(250 * time.Microsecond)
		c := build(t, nw)
		start, wallStart := time.Now(), wallNow()
		c.converge(t, opt.Converge)
		res.Converged = time.Since(start)
		res.ConvergeWall = wallNow().Sub(wallStart)
		// The join's broadcasts take about a minute to run out of
		// retransmissions at a thousand nodes; idle starts when the queues
		// are empty.
		time.Sleep(opt.Settle)
		for !c.settled(time.Since(start)-res.Converged) && time.Since(start) < 15*time.Minute {
			time.Sleep(time.Second)
		}
		res.Settled = time.Since(start)

		writeHeapProfile(t, opt.ProfileDir, "heap-idle-start.pprof")
		prof.set(t, opt.ProfileDir, true)
		s0, cpu0, wall0, idle0 := nw.Stats(), processCPU(), wallNow(), time.Now()
		time.Sleep(opt.Idle)
		s1, cpu1, wall1 := nw.Stats(), processCPU(), wallNow()
		prof.set(t, opt.ProfileDir, false)
		span := time.Since(idle0).Seconds()
		perNodeSec := func(a, b uint64) float64 { return float64(b-a) / float64(opt.Nodes) / span }
		res.IdleCPU = time.Duration(float64(cpu1-cpu0) / span)
		res.IdleWall = wall1.Sub(wall0)
		res.PacketBytes = perNodeSec(s0.BytesSent, s1.BytesSent)
		res.StreamBytes = perNodeSec(s0.StreamBytes, s1.StreamBytes)
		res.PushPulls = perNodeSec(s0.StreamsOpened, s1.StreamsOpened)

		heap := liveHeap()
		res.HeapPerNode = float64(heap-base) / float64(opt.Nodes)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.StackPerNode = float64(ms.StackInuse) / float64(opt.Nodes)
		res.Goroutines = (runtime.NumGoroutine() + opt.Nodes/2) / opt.Nodes
		writeHeapProfile(t, opt.ProfileDir, "heap.pprof")
		if !c.allSee() {
			t.Errorf("the cluster lost members while idle")
		}

		nw.Close()
		c.shutdown()
		time.Sleep(time.Minute)
	})
	return res
}

// TestSynctestScale measures a cluster of AGENT_SCALE nodes (skipped
// without it): convergence, live heap per node and idle CPU. Targets for
// 1,000 nodes: convergence within 10 s of protocol time (enforced), at
// most 200 KB of heap per node and under 10% of one core for the whole
// cluster idle (logged). With BENCH_OUT set the figures also go to
// $BENCH_OUT/scale.json (make bench).
// AGENT_SCALE_IDLE and AGENT_SCALE_SETTLE (Go durations) change the idle
// span (default: one push/pull period, so that every node makes about one)
// and the settling time before it (default 30s); AGENT_SCALE_PROFILE names
// a directory for cpu.pprof, heap.pprof and heap-idle-start.pprof, AGENT_SCALE_MEMPROFILERATE sets
// runtime.MemProfileRate (1 records every allocation), and
// AGENT_SCALE_COMPRESSION=off turns compression off (Serf's
// -disable-compression). Then the same is measured of memberlist alone
// (RunMemberlistScale), the floor of the heap and CPU figures, unless
// AGENT_SCALE_FLOOR=off.
func TestSynctestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AGENT_SCALE"))
	if n < 2 {
		t.Skip("set AGENT_SCALE=<nodes> to run")
	}
	opt := ScaleOptions{
		Nodes: n, Converge: 2 * time.Minute,
		Settle: envDuration(t, "AGENT_SCALE_SETTLE", 30*time.Second),
		Idle:   envDuration(t, "AGENT_SCALE_IDLE", pushPullPeriod(n)),

		ProfileDir: os.Getenv("AGENT_SCALE_PROFILE"),
	}
	if os.Getenv("AGENT_SCALE_COMPRESSION") == "off" {
		opt.Tune = func(c *gossip.Config) { c.Compression = false }
	}
	if r, err := strconv.Atoi(os.Getenv("AGENT_SCALE_MEMPROFILERATE")); err == nil {
		defer func(old int) { runtime.MemProfileRate = old }(runtime.MemProfileRate)
		runtime.MemProfileRate = r
	}
	started := time.Now()
	r := RunScale(t, opt)
	cpuShare := 100 * r.IdleCPU.Seconds()
	t.Logf("%d nodes: converged after %v of protocol time (%v wall)", n, r.Converged.Round(time.Millisecond), r.ConvergeWall.Round(time.Millisecond))
	t.Logf("live heap %.1f KB per node; stacks %.1f KB per node; %d goroutines per node",
		r.HeapPerNode/1024, r.StackPerNode/1024, r.Goroutines)
	t.Logf("broadcast queues empty after %v of protocol time", r.Settled.Round(time.Second))
	t.Logf("idle over %v of protocol time (%v wall): CPU %.1f ms per protocol second (%.1f%% of a core)",
		opt.Idle, r.IdleWall.Round(time.Millisecond), float64(r.IdleCPU)/1e6, cpuShare)
	t.Logf("idle traffic per node: %.0f B/s in packets, %.0f B/s on streams, %.4f streams/s",
		r.PacketBytes, r.StreamBytes, r.PushPulls)
	var floor *ScaleResult
	if os.Getenv("AGENT_SCALE_FLOOR") != "off" {
		fopt := opt
		fopt.Converge, fopt.Tune = 15*time.Minute, nil
		if opt.ProfileDir != "" {
			fopt.ProfileDir = filepath.Join(opt.ProfileDir, "memberlist")
			if err := os.MkdirAll(fopt.ProfileDir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		f := RunMemberlistScale(t, fopt)
		floor = &f
		t.Logf("memberlist alone: converged after %v of protocol time (%v wall); live heap %.1f KB per node; idle CPU %.1f%% of a core; %.0f B/s in packets, %.0f B/s on streams",
			f.Converged.Round(time.Millisecond), f.ConvergeWall.Round(time.Millisecond), f.HeapPerNode/1024, 100*f.IdleCPU.Seconds(), f.PacketBytes, f.StreamBytes)
	}
	if dir := os.Getenv("BENCH_OUT"); dir != "" {
		writeScaleRows(t, dir, n, r, floor, started)
	}
	if r.Converged > 10*time.Second {
		t.Errorf("converged after %v; want within 10s", r.Converged)
	}
	// The heap and CPU targets are below what memberlist alone takes (the
	// floor rows; docs/performance.md); they are reported, not enforced,
	// so that make bench records the figures.
	if n >= 1000 {
		if r.HeapPerNode > 200<<10 {
			t.Logf("target missed: live heap %.1f KB per node; want at most 200 KB", r.HeapPerNode/1024)
		}
		if cpuShare >= 10 {
			t.Logf("target missed: idle CPU %.1f%% of a core; want under 10%%", cpuShare)
		}
	}
}

// writeScaleRows writes the figures as rows of the benchmark suite's table
// to dir/scale.json (make bench). There is no Serf figure: Serf's library
// cannot join more than about 300 nodes to one seed at once.
func writeScaleRows(t *testing.T, dir string, n int, r ScaleResult, floor *ScaleResult, started time.Time) {
	const scenario = "nodes in one process"
	note := fmt.Sprintf("all joining one seed at once; in-memory network, LAN timings; protocol time (%v of real time)", r.ConvergeWall.Round(time.Second))
	rows := []bench.Row{
		{Scenario: scenario, Metric: "all alive everywhere after the joins", N: n, Unit: "s", Ours: r.Converged.Seconds(), Note: note},
		{Scenario: scenario, Metric: "live heap per node", N: n, Unit: "KB", Ours: r.HeapPerNode / 1024,
			Note: "every node holds every member: the heap grows with N squared in one process"},
		{Scenario: scenario, Metric: "idle CPU, whole cluster", N: n, Unit: "% of a core", Ours: 100 * r.IdleCPU.Seconds(),
			Note: "process CPU per second of protocol time, once the join broadcasts ran out"},
		{Scenario: scenario, Metric: "idle bytes sent per node", N: n, Unit: "B/s", Ours: r.PacketBytes + r.StreamBytes,
			Note: fmt.Sprintf("%.0f B/s in packets, %.0f B/s on streams (push/pulls)", r.PacketBytes, r.StreamBytes)},
	}
	if floor != nil {
		const note = "the floor: memberlist v0.5.4 by itself (no delegate), same network, transport and compression; joined in waves of 50"
		rows = append(rows,
			bench.Row{Scenario: scenario, Metric: "floor: live heap per node, memberlist alone", N: n, Unit: "KB", Ours: floor.HeapPerNode / 1024, Note: note},
			bench.Row{Scenario: scenario, Metric: "floor: idle CPU, whole cluster, memberlist alone", N: n, Unit: "% of a core", Ours: 100 * floor.IdleCPU.Seconds()},
			bench.Row{Scenario: scenario, Metric: "floor: idle bytes sent per node, memberlist alone", N: n, Unit: "B/s", Ours: floor.PacketBytes + floor.StreamBytes},
		)
	}
	res := &bench.Results{Started: started, Finished: time.Now(), Machine: bench.ThisMachine(), Rows: rows}
	if err := res.Write(filepath.Join(dir, "scale.json")); err != nil {
		t.Fatal(err)
	}
}

// pushPullPeriod is memberlist's push/pull interval for n members with LAN
// timings: 30 s, times one more for every doubling past 32 members.
func pushPullPeriod(n int) time.Duration {
	const interval, threshold = 30 * time.Second, 32
	if n <= threshold {
		return interval
	}
	return time.Duration(math.Ceil(math.Log2(float64(n)/threshold))+1) * interval
}

// queuesEmpty reports whether no node has intents, user events or queries
// left to gossip. Ours are sent in the room memberlist's own broadcasts
// leave, so they run out last.
func queuesEmpty(nodes []*gossip.Node) bool {
	for _, nd := range nodes {
		if s := nd.Stats(); s.IntentQueue+s.UserEventQueue+s.QueryQueue > 0 {
			return false
		}
	}
	return true
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return d
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// processCPU returns the user and system CPU the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wallNow reads the real clock: inside the bubble time.Now is the fake one.
func wallNow() time.Time {
	var tv syscall.Timeval
	_ = syscall.Gettimeofday(&tv)
	return time.Unix(tv.Unix())
}

// cpuProfiler runs the CPU profiler for code inside a synctest bubble. The
// profiler's writer goroutine must start outside the bubble: inside, it
// would never block durably, and the fake clock would stop.
type cpuProfiler struct {
	req  chan bool // true: start, false: stop
	done chan error
}

// newCPUProfiler starts the helper goroutine, outside any bubble, that
// writes dir/cpu.pprof; with dir empty it does nothing.
func newCPUProfiler(t *testing.T, dir string) *cpuProfiler {
	p := &cpuProfiler{req: make(chan bool), done: make(chan error)}
	if dir == "" {
		return p
	}
	go func() {
		var f *os.File
		for start := range p.req {
			var err error
			if start {
				if f, err = os.Create(filepath.Join(dir, "cpu.pprof")); err == nil {
					err = pprof.StartCPUProfile(f)
				}
			} else if f != nil {
				pprof.StopCPUProfile()
				err = f.Close()
			}
			p.done <- err
		}
	}()
	t.Cleanup(func() { close(p.req) })
	return p
}

// set starts or stops the profile; a no-op without a directory.
func (p *cpuProfiler) set(t *testing.T, dir string, start bool) {
	if dir == "" {
		return
	}
	p.req <- start
	if err := <-p.done; err != nil {
		t.Error(err)
	}
}

// writeHeapProfile writes the heap profile to dir/name; the difference
// of two (pprof -base) shows what was allocated in between.
func writeHeapProfile(t *testing.T, dir, name string) {
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Error(err)
	}
}
