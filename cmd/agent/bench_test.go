package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
// agent lists 20 alive, RSS per agent after 10 s idle, and the round trip of
// a members call over RPC. Ready time is from just before exec until the
// RPC port accepts a TCP connection. SERF_BIN names a serf 0.10 binary to
// measure the same way, beside ours (make bench builds one). With BENCH_OUT
// set, the figures also go to $BENCH_OUT/processes.json as rows of the
// benchmark suite's table (see internal/bench).
func BenchmarkAgentProcesses(b *testing.B) {
	started := time.Now()
	ours := buildAgent(b)
	var our, theirs *procFigures
	b.Run("ours", func(b *testing.B) {
		our = benchProcesses(b, ours, func(name, join string) func(gossip, rpc string) []string {
			return func(gossip, rpc string) []string {
				args := []string{"run", "--node", name, "--bind", gossip, "--rpc-addr", rpc, "--tag", "role=web"}
				if join != "" {
					args = append(args, "--join", join)
				}
				return args
			}
		})
	})
	if serfBin := os.Getenv("SERF_BIN"); serfBin == "" {
		b.Log("SERF_BIN not set: Serf's binary not measured")
	} else {
		b.Run("serf", func(b *testing.B) {
			theirs = benchProcesses(b, serfBin, func(name, join string) func(gossip, rpc string) []string {
				return func(gossip, rpc string) []string {
					args := []string{"agent", "-node", name, "-bind", gossip, "-rpc-addr", rpc, "-tag", "role=web"}
					if join != "" {
						args = append(args, "-join", join)
					}
					return args
				}
			})
		})
	}
	if dir := os.Getenv("BENCH_OUT"); dir != "" && our != nil {
		res := &bench.Results{Started: started, Finished: time.Now(), Machine: bench.ThisMachine(), Rows: our.rows(theirs)}
		if err := res.Write(filepath.Join(dir, "processes.json")); err != nil {
			b.Fatal(err)
		}
	}
}

// procFigures is what one run of benchProcesses measured.
type procFigures struct {
	n        int
	converge time.Duration // last start to all alive everywhere
	rssKB    float64       // per process, after 10 s idle
	ready    time.Duration // exec to RPC listening, mean
	rpcRTT   time.Duration // members call over an open connection
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
	return []bench.Row{
		row("all alive everywhere after the last start", "s", func(g *procFigures) float64 { return g.converge.Seconds() }),
		row("RSS per agent", "KB", func(g *procFigures) float64 { return g.rssKB }),
		row("start to RPC listening", "ms", func(g *procFigures) float64 { return float64(g.ready.Microseconds()) / 1000 }),
		row("members RPC round trip", "ms", func(g *procFigures) float64 { return float64(g.rpcRTT.Microseconds()) / 1000 }),
	}
}

// benchProcesses measures 20 processes of bin; args builds one's command
// line. It returns the last iteration's figures.
func benchProcesses(b *testing.B, bin string, args func(name, join string) func(gossip, rpc string) []string) *procFigures {
	const n = 20
	ctx := context.Background()
	var f *procFigures
	for b.Loop() {
		f = &procFigures{n: n}
		var ps []*proc
		var ready time.Duration
		for i := range n {
			join := ""
			if i > 0 {
				join = ps[0].gossip
			}
			name := fmt.Sprintf("bench-%02d", i)
			p := startProcess(b, bin, name, args(name, join))
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
		b.ReportMetric(f.converge.Seconds(), "converge-s")
		b.ReportMetric(f.rssKB/1024, "RSS-MiB/agent")
		b.ReportMetric(float64(f.ready.Microseconds())/1000, "ready-ms")
		b.ReportMetric(float64(f.rpcRTT.Microseconds())/1000, "members-rpc-ms")
		for _, p := range ps {
			_ = p.cmd.Process.Kill()
		}
	}
	return f
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
