package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
