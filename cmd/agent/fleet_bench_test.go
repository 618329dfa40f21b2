package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/internal/bench"
	"github.com/agentd/agent/rpc"
)

// BenchmarkAgentFleet starts fleets of real agent processes on loopback
// all at once, as an autoscaling group or a rack after a power cut does:
// a seed first, then the other N-1 together, each with --join to the
// seed. It reports the time from the last start until the slowest agent
// lists N alive, five runs per size (FLEET_RUNS), median and worst; then
// two user events fired through the CLI: one no agent handles, timed to
// each agent's RPC event stream (gossip alone), and one every agent's
// handler script runs for, timed to each script's run (gossip and the
// spawn of N scripts on this machine), beside the floor: N handler
// scripts started at once by the benchmark itself. FLEET_SIZES overrides
// the sizes ("10,50,100"); FLEET_FLAGS adds arguments to our agents'
// command line, for experiments. With SERF_BIN set, Serf's agent is measured
// the same way, once per size (FLEET_SERF_RUNS), with a longer limit.
// With BENCH_OUT set, the rows go to $BENCH_OUT/fleet.json.
func BenchmarkAgentFleet(b *testing.B) {
	started := time.Now()
	sizes := envInts(b, "FLEET_SIZES", []int{10, 50, 100})
	runs := envInts(b, "FLEET_RUNS", []int{5})[0]
	serfRuns := envInts(b, "FLEET_SERF_RUNS", []int{1})[0]
	ours := flavor{bin: buildAgent(b), agent: []string{"run"}, dash: "--"}
	var rows []bench.Row
	for _, n := range sizes {
		var our, theirs []fleetRun
		b.Run(fmt.Sprintf("ours/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				our = nil
				for range runs {
					our = append(our, runFleet(b, ours, n, time.Minute))
				}
			}
			reportFleet(b, our)
		})
		if serfBin := os.Getenv("SERF_BIN"); serfBin != "" && serfRuns > 0 {
			b.Run(fmt.Sprintf("serf/n=%d", n), func(b *testing.B) {
				for b.Loop() {
					theirs = nil
					for range serfRuns {
						theirs = append(theirs, runFleet(b, flavor{bin: serfBin, agent: []string{"agent"}, dash: "-"}, n, 150*time.Second))
					}
				}
				reportFleet(b, theirs)
			})
		}
		rows = append(rows, fleetRows(n, our, theirs)...)
	}
	if dir := os.Getenv("BENCH_OUT"); dir != "" && len(rows) > 0 {
		res := &bench.Results{Started: started, Finished: time.Now(), Machine: bench.ThisMachine(), Rows: rows}
		if err := res.Write(filepath.Join(dir, "fleet.json")); err != nil {
			b.Fatal(err)
		}
	}
}

// fleetRun is what one fleet start measured.
type fleetRun struct {
	spawn     time.Duration // first start of the N-1 to the last
	converge  time.Duration // last start to the slowest agent listing N alive
	converged bool          // false: converge is the limit, not reached
	stream    []time.Duration
	handler   []time.Duration
	floor     []time.Duration
}

// runFleet starts one fleet of n agents of flavor fl and measures it;
// every process is killed before it returns.
func runFleet(b *testing.B, fl flavor, n int, limit time.Duration) fleetRun {
	marks := b.TempDir()
	mark := touchHandler(b, marks)
	args := func(name string, join string) func(gossip, rpc string) []string {
		flags := []string{"node", name, "event-handler", "user:fleet=" + mark, "log-level", "warn"}

		if join != "" {
			flags = append(flags, "join", join)
		}
		return func(gossip, rpc string) []string {
			args := fl.args(fl.agent, append(flags, "bind", gossip, "rpc-addr", rpc)...)
			if fl.dash == "--" {
				args = append(args, strings.Fields(os.Getenv("FLEET_FLAGS"))...)
			}
			return args
		}
	}
	ps := make([]*proc, n)
	ps[0] = startProcess(b, fl.bin, "fleet-000", args("fleet-000", ""))
	defer func() {
		for _, p := range ps {
			if p != nil {
				_ = p.cmd.Process.Kill()
			}
		}
	}()
	waitListening(b, ps[0])
	// Ports first, so that the starts themselves follow one another as
	// closely as exec allows.
	type addrs struct{ gossip, rpc string }
	free := make([]addrs, n)
	ports := fleetPorts(b, 2*(n-1))
	for i := 1; i < n; i++ {
		free[i] = addrs{"127.0.0.1:" + strconv.Itoa(ports[2*i-2]), "127.0.0.1:" + strconv.Itoa(ports[2*i-1])}
	}
	first := time.Now()
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("fleet-%03d", i)
		ps[i] = startProcessAt(b, fl.bin, name, free[i].gossip, free[i].rpc, args(name, ps[0].gossip))
	}
	lastStart := time.Now()
	run := fleetRun{spawn: lastStart.Sub(first)}

	clients := make([]*rpc.Client, n)
	for i, p := range ps {
		clients[i] = dialWhenReady(b, p)
		defer clients[i].Close()
	}
	// Each agent's member events come over an RPC stream: polling 100
	// agents with members or stats calls loaded the very machine being
	// measured (1.4 ms of the agent's CPU per call).
	reached := watchAlive(b, ps, clients, n)
	deadline := time.NewTimer(limit - time.Since(lastStart))
	pending := n
	var last time.Time
wait:
	for pending > 0 {
		select {
		case at := <-reached:
			pending--
			last = at
		case <-deadline.C:
			break wait
		}
	}
	deadline.Stop()
	if pending == 0 {
		run.converge, run.converged = last.Sub(lastStart), true
	} else {
		run.converge = limit
	}
	if !run.converged {
		b.Logf("%s n=%d: %d agents do not list %d alive after %v", filepath.Base(fl.bin), n, pending, n, limit)
		return run
	}
	run.stream = streamEvent(b, fl, ps, clients)
	run.handler = handlerEvent(b, fl, ps, marks)
	run.floor = spawnMarks(b, ps, marks, mark)
	return run
}

// watchAlive follows every agent's member events over RPC (a members
// call after subscribing gives the start) and sends, once per agent, the
// time it first listed n members alive.
func watchAlive(b *testing.B, ps []*proc, clients []*rpc.Client, n int) <-chan time.Time {
	ctx := context.Background()
	reached := make(chan time.Time, len(ps))
	for i, c := range clients {
		ch, _, err := c.Stream(ctx, "member-join,member-leave,member-failed,member-update,member-reap")
		if err != nil {
			b.Fatalf("%s: stream: %v", ps[i].name, err)
		}
		list, err := c.Members(ctx)
		if err != nil {
			b.Fatalf("%s: members: %v", ps[i].name, err)
		}
		alive := map[string]bool{}
		for _, m := range list {
			alive[m.Name] = m.Status == events.StatusAlive
		}
		go func() {
			count := func() (k int) {
				for _, ok := range alive {
					if ok {
						k++
					}
				}
				return k
			}
			if count() == n {
				reached <- time.Now()
				return
			}
			for e := range ch {
				me, ok := e.(events.MemberEvent)
				if !ok {
					continue
				}
				for _, m := range me.Members {
					alive[m.Name] = me.Type == events.MemberJoin || (me.Type == events.MemberUpdate && m.Status == events.StatusAlive)
				}
				if count() == n {
					reached <- time.Now()
					return
				}
			}
		}()
	}
	return reached
}

// streamEvent fires a user event no agent has a handler for through the
// CLI against the first agent, and returns for each agent the time from
// just before the command started until the event came out of the
// agent's RPC event stream: gossip alone.
func streamEvent(b *testing.B, fl flavor, ps []*proc, clients []*rpc.Client) []time.Duration {
	ctx := context.Background()
	arrived := make([]time.Time, len(ps))
	var wg sync.WaitGroup
	for i, c := range clients {
		ch, stop, err := c.Stream(ctx, "user:quiet")
		if err != nil {
			b.Fatalf("%s: stream: %v", ps[i].name, err)
		}
		defer func() { _ = stop(ctx) }()
		wg.Go(func() {
			timeout := time.NewTimer(30 * time.Second)
			defer timeout.Stop()
			select {
			case <-ch:
				arrived[i] = time.Now()
			case <-timeout.C:
			}
		})
	}
	start := fireEvent(b, fl, ps[0], "quiet")
	wg.Wait()
	var out []time.Duration
	for i, at := range arrived {
		if at.IsZero() {
			b.Fatalf("%s: the event did not reach its RPC stream within 30s", ps[i].name)
		}
		out = append(out, at.Sub(start))
	}
	return out
}

// handlerEvent fires the event every agent's mark handler runs for, and
// returns for each agent the time from just before the command started
// until its handler ran.
func handlerEvent(b *testing.B, fl flavor, ps []*proc, marks string) []time.Duration {
	clearMarks(b, ps, marks)
	start := fireEvent(b, fl, ps[0], "fleet")
	var out []time.Duration
	for _, at := range markTimes(b, ps, marks) {
		out = append(out, max(0, at.Sub(start)))
	}
	return out
}

// fireEvent runs `event --coalesce=false NAME x` against p and returns
// when the command was about to start.
func fireEvent(b *testing.B, fl flavor, p *proc, name string) time.Time {
	start := time.Now()
	cmd := exec.Command(fl.bin, fl.args([]string{"event"}, "rpc-addr", p.rpc)...)
	cmd.Args = append(cmd.Args, fl.dash+"coalesce=false", name, "x")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s event: %v\n%s", fl.bin, err, out)
	}
	return start
}

// touchHandler writes dir/mark.sh, a handler that creates (or truncates)
// dir/$SERF_SELF_NAME with a shell builtin and nothing else: the file's
// modification time is when the handler ran (to the kernel's clock tick,
// 4 ms here), and the script costs one shell start, the least a script
// handler can.
func touchHandler(b *testing.B, dir string) string {
	path := filepath.Join(dir, "mark.sh")
	body := fmt.Sprintf("#!/bin/sh\n: > %s/\"$SERF_SELF_NAME\"\n", dir)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		b.Fatal(err)
	}
	return path
}

// spawnMarks starts every agent's mark handler at once from this process
// and returns how long after the start each wrote its time: what the
// handler figures cannot go below on this machine.
func spawnMarks(b *testing.B, ps []*proc, marks, mark string) []time.Duration {
	clearMarks(b, ps, marks)
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			cmd := exec.Command(mark)
			cmd.Env = append(os.Environ(), "SERF_SELF_NAME="+p.name)
			if err := cmd.Run(); err != nil {
				b.Errorf("mark handler: %v", err)
			}
		})
	}
	wg.Wait()
	var out []time.Duration
	for _, at := range markTimes(b, ps, marks) {
		out = append(out, at.Sub(start))
	}
	return out
}

// markTimes waits for every agent's mark file and returns when each was
// written, in the order of ps.
func markTimes(b *testing.B, ps []*proc, marks string) []time.Time {
	out := make([]time.Time, len(ps))
	deadline := time.Now().Add(30 * time.Second)
	for i, p := range ps {
		for {
			fi, err := os.Stat(filepath.Join(marks, p.name))
			if err == nil {
				out[i] = fi.ModTime()
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the handler of %s did not run within 30s", p.name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return out
}

func reportFleet(b *testing.B, runs []fleetRun) {
	if len(runs) == 0 {
		return
	}
	s := summarize(runs)
	b.ReportMetric(s.convergeMedian.Seconds(), "converge-median-s")
	b.ReportMetric(s.convergeWorst.Seconds(), "converge-worst-s")
	b.ReportMetric(s.spawnMedian.Seconds(), "spawn-s")
	if s.events > 0 {
		b.ReportMetric(ms(s.streamMedian), "event-stream-median-ms")
		b.ReportMetric(ms(s.streamWorst), "event-stream-last-ms")
		b.ReportMetric(ms(s.handlerMedian), "event-handler-median-ms")
		b.ReportMetric(ms(s.handlerWorst), "event-handler-last-ms")
	}
}

// fleetSummary folds the runs of one size: the median and the worst of
// the convergence times; for the event, the median of the runs' median
// agents and the worst run's last agent.
type fleetSummary struct {
	runs, converged, events         int
	convergeMedian, convergeWorst   time.Duration
	spawnMedian                     time.Duration
	streamMedian, streamWorst       time.Duration
	handlerMedian, handlerWorst     time.Duration
	floorMedian, floorWorst         time.Duration
	streamWithin2s, handlerWithin2s float64 // share of all deliveries
}

func summarize(runs []fleetRun) fleetSummary {
	s := fleetSummary{runs: len(runs)}
	var conv, spawn, sMed, hMed, fMed []time.Duration
	var sAll, hAll int
	var sIn, hIn int
	for _, r := range runs {
		conv = append(conv, r.converge)
		spawn = append(spawn, r.spawn)
		if r.converged {
			s.converged++
		}
		if len(r.stream) == 0 {
			continue
		}
		s.events++
		sMed, hMed, fMed = append(sMed, medianOf(r.stream)), append(hMed, medianOf(r.handler)), append(fMed, medianOf(r.floor))
		s.streamWorst = max(s.streamWorst, slices.Max(r.stream))
		s.handlerWorst = max(s.handlerWorst, slices.Max(r.handler))
		s.floorWorst = max(s.floorWorst, slices.Max(r.floor))
		for _, d := range r.stream {
			sAll++
			if d <= 2*time.Second {
				sIn++
			}
		}
		for _, d := range r.handler {
			hAll++
			if d <= 2*time.Second {
				hIn++
			}
		}
	}
	s.convergeMedian, s.convergeWorst, s.spawnMedian = medianOf(conv), slices.Max(conv), medianOf(spawn)
	if s.events > 0 {
		s.streamMedian, s.handlerMedian, s.floorMedian = medianOf(sMed), medianOf(hMed), medianOf(fMed)
		s.streamWithin2s, s.handlerWithin2s = 100*float64(sIn)/float64(sAll), 100*float64(hIn)/float64(hAll)
	}
	return s
}

// fleetRows turns the runs of one size into suite rows, ours beside
// Serf's (nil: not measured).
func fleetRows(n int, ours, serf []fleetRun) []bench.Row {
	if len(ours) == 0 {
		return nil
	}
	o := summarize(ours)
	var t *fleetSummary
	if len(serf) > 0 {
		s := summarize(serf)
		t = &s
	}
	pick := func(v func(fleetSummary) float64, ok func(fleetSummary) bool) *float64 {
		if t == nil || !ok(*t) {
			return nil
		}
		return bench.Float(v(*t))
	}
	always := func(fleetSummary) bool { return true }
	withEvent := func(s fleetSummary) bool { return s.events > 0 }
	runsNote := func(what string) string {
		note := fmt.Sprintf("ours: %d runs (%d converged)", o.runs, o.converged)
		if t != nil {
			note += fmt.Sprintf("; Serf: %d run(s) (%d converged, limit 150 s)", t.runs, t.converged)
		}
		return note + what
	}
	row := func(metric, unit string, v func(fleetSummary) float64, ok func(fleetSummary) bool, note string) bench.Row {
		return bench.Row{Scenario: "agent fleet", Metric: metric, N: n, Unit: unit, Ours: v(o), Serf: pick(v, ok), Note: note}
	}
	rows := []bench.Row{
		row("all alive everywhere after the last start, median run", "s", func(s fleetSummary) float64 { return s.convergeMedian.Seconds() }, always, runsNote("")),
		row("all alive everywhere after the last start, worst run", "s", func(s fleetSummary) float64 { return s.convergeWorst.Seconds() }, always, runsNote("")),
		row("time to start the other agents (exec of each)", "s", func(s fleetSummary) float64 { return s.spawnMedian.Seconds() }, always, "median run; not part of the convergence time"),
	}
	if o.events == 0 {
		return rows
	}
	rows = append(rows,
		row("user event to each agent's event stream, median agent", "ms", func(s fleetSummary) float64 { return ms(s.streamMedian) }, withEvent, "an event no agent has a handler for; median over runs of each run's median agent; from the start of the `event` command"),
		row("user event to each agent's event stream, last agent of the worst run", "ms", func(s fleetSummary) float64 { return ms(s.streamWorst) }, withEvent, ""),
		row("user event to each handler script, median handler", "ms", func(s fleetSummary) float64 { return ms(s.handlerMedian) }, withEvent, fmt.Sprintf("a second event, which every agent's handler (one shell builtin) runs for: %d scripts spawned at once on this machine; see the floor", n)),
		row("user event to each handler script, last handler of the worst run", "ms", func(s fleetSummary) float64 { return ms(s.handlerWorst) }, withEvent, ""),
		row("handlers not run within 2 s", "%", func(s fleetSummary) float64 { return 100 - s.handlerWithin2s }, withEvent, "share of all (agent, run) pairs"),
		bench.Row{Scenario: "agent fleet", Metric: "floor: the handler scripts started at once, median handler", N: n, Unit: "ms", Ours: ms(o.floorMedian),
			Note: "no agent involved: the least the handler rows can take on this machine"},
		bench.Row{Scenario: "agent fleet", Metric: "floor: the handler scripts started at once, last handler of the worst run", N: n, Unit: "ms", Ours: ms(o.floorWorst)},
	)
	return rows
}

// fleetPorts returns count distinct ports free for TCP and UDP on
// 127.0.0.1, below the kernel's ephemeral range (32768 and up by
// default), so that the agents' own outgoing connections cannot take one
// between this check and the agent's bind.
func fleetPorts(b *testing.B, count int) []int {
	var out []int
	for port := 20000 + rand.IntN(10000); len(out) < count; port++ {
		if port >= 32768 {
			b.Fatalf("fewer than %d free ports below 32768", count)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		out = append(out, port)
	}
	return out
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// envInts reads a comma-separated list of positive integers from the
// environment, or returns def.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			b.Fatalf("%s=%q: want comma-separated counts", name, v)
		}
		out = append(out, n)
	}
	return out
}
