package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/internal/bench"
	"github.com/agentd/agent/rpc"
)

// BenchmarkAgentProcesses runs 20 real agent processes on loopback and
// reports: start-to-RPC-ready time, time from the last start until every
// agent lists 20 alive, RSS per agent after 10 s idle, the round trip of a
// members call over RPC, the time from starting `event` until the last of
// the 20 agents' handlers ran, and the time a `query` answered by 20
// handlers takes. Ready time is from just before exec until the RPC port
// accepts a TCP connection. SERF_BIN names a serf 0.10 binary to measure
// the same way, beside ours (make bench builds one). With BENCH_OUT set,
// the figures also go to $BENCH_OUT/processes.json as rows of the
// benchmark suite's table (see internal/bench).
func BenchmarkAgentProcesses(b *testing.B) {
	started := time.Now()
	ours := flavor{bin: buildAgent(b), agent: []string{"run"}, dash: "--"}
	var our, theirs *procFigures
	b.Run("ours", func(b *testing.B) { our = benchProcesses(b, ours) })
	if serfBin := os.Getenv("SERF_BIN"); serfBin == "" {
		b.Log("SERF_BIN not set: Serf's binary not measured")
	} else {
		b.Run("serf", func(b *testing.B) {
			theirs = benchProcesses(b, flavor{bin: serfBin, agent: []string{"agent"}, dash: "-"})
		})
	}
	if dir := os.Getenv("BENCH_OUT"); dir != "" && our != nil {
		res := &bench.Results{Started: started, Finished: time.Now(), Machine: bench.ThisMachine(), Rows: our.rows(theirs)}
		if err := res.Write(filepath.Join(dir, "processes.json")); err != nil {
			b.Fatal(err)
		}
	}
}

// flavor is how to drive one implementation's binary: ours spells flags
// with two dashes and starts with "run", Serf's with one and "agent"; the
// flag names are the same.
type flavor struct {
	bin   string
	agent []string // the subcommand that starts the daemon
	dash  string
}

// args builds a command line: sub, then each flag pair with the dash.
func (f flavor) args(sub []string, flags ...string) []string {
	out := slices.Clone(sub)
	for i := 0; i+1 < len(flags); i += 2 {
		out = append(out, f.dash+flags[i], flags[i+1])
	}
	return out
}

// procFigures is what one run of benchProcesses measured.
type procFigures struct {
	n        int
	converge time.Duration // last start to all alive everywhere
	rssKB    float64       // per process, after 10 s idle
	ready    time.Duration // exec to RPC listening, mean
	rpcRTT   time.Duration // members call over an open connection
	event    time.Duration // `event --coalesce=false` started to the last handler run
	eventCC  time.Duration // the same with --coalesce=true
	eventOne time.Duration // an event only the last agent handles, to its run
	query    time.Duration // `query` started to the command's end
	floor    time.Duration // the CLI's start, then 20 handler runs at once
}

// rows returns the figures as suite rows beside serf's (nil: not measured).
func (f *procFigures) rows(serf *procFigures) []bench.Row {
	pick := func(g *procFigures, v func(*procFigures) float64) *float64 {
		if g == nil {
			return nil
		}
		return bench.Float(v(g))
	}
	row := func(metric, unit string, v func(*procFigures) float64) bench.Row {
		return bench.Row{Scenario: "agent processes", Metric: metric, N: f.n, Unit: unit, Ours: v(f), Serf: pick(serf, v)}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return []bench.Row{
		row("all alive everywhere after the last start", "s", func(g *procFigures) float64 { return g.converge.Seconds() }),
		row("RSS per agent", "KB", func(g *procFigures) float64 { return g.rssKB }),
		row("start to RPC listening", "ms", func(g *procFigures) float64 { return ms(g.ready) }),
		row("members RPC round trip", "ms", func(g *procFigures) float64 { return ms(g.rpcRTT) }),
		row("event command to the last handler run", "ms", func(g *procFigures) float64 { return ms(g.event) }),
		row("coalesced event command to the last handler run", "ms", func(g *procFigures) float64 { return ms(g.eventCC) }),
		row("event command to the one handler of a remote agent", "ms", func(g *procFigures) float64 { return ms(g.eventOne) }),
		row("query command answered by every handler", "ms", func(g *procFigures) float64 { return ms(g.query) }),
		{Scenario: "agent processes", Metric: "floor: CLI start, then the 20 handlers started at once", N: f.n, Unit: "ms", Ours: ms(f.floor),
			Note: "no agent involved: the least any implementation's event row can take on this machine"},
	}
}

// benchProcesses measures 20 processes of one flavor. It returns the last
// iteration's figures.
func benchProcesses(b *testing.B, fl flavor) *procFigures {
	const n = 20
	ctx := context.Background()
	var f *procFigures
	for b.Loop() {
		f = &procFigures{n: n}
		marks := b.TempDir()
		mark, answer := benchHandlers(b, marks)
		var ps []*proc
		var ready time.Duration
		for i := range n {
			name := fmt.Sprintf("bench-%02d", i)
			flags := []string{"node", name, "tag", "role=web",
				"event-handler", "user:bench=" + mark,
				"event-handler", "query:bench=" + answer}
			if i == n-1 {
				flags = append(flags, "event-handler", "user:solo="+mark)
			}
			if i > 0 {
				flags = append(flags, "join", ps[0].gossip)
			}
			p := startProcess(b, fl.bin, name, func(gossip, rpc string) []string {
				return fl.args(fl.agent, append(flags, "bind", gossip, "rpc-addr", rpc)...)
			})
			ready += waitListening(b, p)
			ps = append(ps, p)
		}
		lastStart := time.Now()
		clients := make([]*rpc.Client, n)
		for i, p := range ps {
			clients[i] = dialWhenReady(b, p)
			defer clients[i].Close()
		}
		for i := 0; i < n; {
			ms, err := clients[i].Members(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if countAlive(ms) == n {
				i++
				continue
			}
			if time.Since(lastStart) > time.Minute {
				b.Fatalf("agent %d sees %d alive after 1m", i, countAlive(ms))
			}
			time.Sleep(5 * time.Millisecond)
		}
		f.converge = time.Since(lastStart)

		const rounds = 200
		start := time.Now()
		for range rounds {
			if _, err := clients[0].Members(ctx); err != nil {
				b.Fatal(err)
			}
		}
		f.rpcRTT = time.Since(start) / rounds

		idle := time.NewTimer(10 * time.Second) // the idle period being measured
		<-idle.C
		var rss int64
		for _, p := range ps {
			rss += rssKB(b, p.cmd.Process.Pid)
		}
		f.rssKB = float64(rss) / n
		f.ready = ready / n
		f.event = lastHandlerRun(b, fl, ps[0], ps, marks, "bench", false)
		f.eventCC = lastHandlerRun(b, fl, ps[0], ps, marks, "bench", true)
		f.eventOne = lastHandlerRun(b, fl, ps[0], ps[n-1:], marks, "solo", false)
		f.query = timeQuery(b, fl, ps[0])
		f.floor = spawnFloor(b, fl, ps, marks, mark)
		b.ReportMetric(f.converge.Seconds(), "converge-s")
		b.ReportMetric(f.rssKB/1024, "RSS-MiB/agent")
		b.ReportMetric(float64(f.ready.Microseconds())/1000, "ready-ms")
		b.ReportMetric(float64(f.rpcRTT.Microseconds())/1000, "members-rpc-ms")
		b.ReportMetric(float64(f.event.Microseconds())/1000, "event-ms")
		b.ReportMetric(float64(f.eventCC.Microseconds())/1000, "event-coalesced-ms")
		b.ReportMetric(float64(f.eventOne.Microseconds())/1000, "event-one-ms")
		b.ReportMetric(float64(f.query.Microseconds())/1000, "query-ms")
		b.ReportMetric(float64(f.floor.Microseconds())/1000, "floor-ms")
		for _, p := range ps {
			_ = p.cmd.Process.Kill()
		}
	}
	return f
}

// benchHandlers writes the handler scripts into dir: mark writes the time
// into dir/$SERF_SELF_NAME, answer prints "ok". Scripts, the usual form of
// a handler, for both implementations.
func benchHandlers(b *testing.B, dir string) (mark, answer string) {
	mark, answer = filepath.Join(dir, "mark.sh"), filepath.Join(dir, "answer.sh")
	for path, body := range map[string]string{
		mark:   fmt.Sprintf("#!/bin/sh\ndate +%%s%%N > %s/\"$SERF_SELF_NAME\"\n", dir),
		answer: "#!/bin/sh\necho ok\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return mark, answer
}

// spawnFloor measures what an event row cannot go below on this machine,
// with no agent involved: the CLI's start (`version`), then the 20 mark
// handlers started at once from this process, as the 20 agents start
// theirs, until the last one wrote its time.
func spawnFloor(b *testing.B, fl flavor, ps []*proc, marks, mark string) time.Duration {
	clearMarks(b, ps, marks)
	start := time.Now()
	if out, err := exec.Command(fl.bin, "version").CombinedOutput(); err != nil {
		b.Fatalf("%s version: %v\n%s", fl.bin, err, out)
	}
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() {
			cmd := exec.Command(mark)
			cmd.Env = append(os.Environ(), "SERF_SELF_NAME="+p.name)
			errs <- cmd.Run()
		}()
	}
	for range ps {
		if err := <-errs; err != nil {
			b.Fatalf("mark handler: %v", err)
		}
	}
	return lastMark(b, ps, marks).Sub(start)
}

func clearMarks(b *testing.B, ps []*proc, marks string) {
	for _, p := range ps {
		if err := os.Remove(filepath.Join(marks, p.name)); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
}

// lastMark waits for every agent's mark file and returns the latest time
// written.
func lastMark(b *testing.B, ps []*proc, marks string) time.Time {
	var last time.Time
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for {
			raw, err := os.ReadFile(filepath.Join(marks, p.name))
			if ns, perr := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && perr == nil {
				if t := time.Unix(0, ns); t.After(last) {
					last = t
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the handler of %s did not run within 30s", p.name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return last
}

// lastHandlerRun runs `event --coalesce=COALESCE NAME` against agent via
// and returns the time from just before the command started until the
// last handler of ps wrote its timestamp.
func lastHandlerRun(b *testing.B, fl flavor, via *proc, ps []*proc, marks, name string, coalesce bool) time.Duration {
	clearMarks(b, ps, marks)
	start := time.Now()
	cmd := exec.Command(fl.bin, fl.args([]string{"event"}, "rpc-addr", via.rpc)...)
	cmd.Args = append(cmd.Args, fmt.Sprintf("%scoalesce=%t", fl.dash, coalesce), name, "x")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s event: %v\n%s", fl.bin, err, out)
	}
	return lastMark(b, ps, marks).Sub(start)
}

// timeQuery runs `query bench` against p with the default timeout and
// returns how long the command took; it checks that 20 nodes answered.
func timeQuery(b *testing.B, fl flavor, p *proc) time.Duration {
	start := time.Now()
	cmd := exec.Command(fl.bin, fl.args([]string{"query"}, "rpc-addr", p.rpc)...)
	cmd.Args = append(cmd.Args, "bench")
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("%s query: %v\n%s", fl.bin, err, out)
	}
	if !strings.Contains(string(out), "Total Responses: 20") {
		b.Fatalf("%s query: want 20 responses:\n%s", fl.bin, out)
	}
	return took
}

// waitListening returns how long after its start p accepted a TCP
// connection on its RPC address (polled every 0.5 ms).
func waitListening(b testing.TB, p *proc) time.Duration {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", p.rpc)
		if err == nil {
			c.Close()
			return time.Since(p.started)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: RPC not listening after 20s: %v\n%s", p.name, err, p.stderr)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func dialWhenReady(b testing.TB, p *proc) *rpc.Client {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := rpc.Dial(context.Background(), p.rpc, "")
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: RPC not ready after 20s: %v\n%s", p.name, err, p.stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func countAlive(ms []events.Member) int {
	n := 0
	for _, m := range ms {
		if m.Status == events.StatusAlive {
			n++
		}
	}
	return n
}

// rssKB reads a process's resident set size from /proc.
func rssKB(b testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read RSS: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("parse RSS %q: %v", line, err)
			}
			return kb
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
