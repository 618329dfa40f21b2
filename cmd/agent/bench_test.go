package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
)

// BenchmarkAgentProcesses runs 20 real agent processes on loopback and
// reports: start-to-RPC-ready time, time from the last start until every
// agent lists 20 alive, RSS per agent after 10 s idle, and the round trip of
// a members call (RPC, and the whole `agent members` command).
// Serf 0.10 on the same kind of machine: 0.42 s, 16.8 MiB, 16 ms, 4.5 ms.
func BenchmarkAgentProcesses(b *testing.B) {
	const n = 20
	bin := buildAgent(b)
	ctx := context.Background()
	for b.Loop() {
		var ps []*proc
		var ready time.Duration
		for i := range n {
			join := ""
			if i > 0 {
				join = ps[0].gossip
			}
			start := time.Now()
			p := startAgent(b, bin, fmt.Sprintf("bench-%02d", i), join, "--profile", "lan")
			c := dialWhenReady(b, p)
			ready += time.Since(start)
			c.Close()
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
		converge := time.Since(lastStart)

		const rounds = 200
		start := time.Now()
		for range rounds {
			if _, err := clients[0].Members(ctx); err != nil {
				b.Fatal(err)
			}
		}
		rpcRTT := time.Since(start) / rounds
		start = time.Now()
		for range 10 {
			if out, err := exec.Command(bin, "members", "--rpc-addr", ps[0].rpc).CombinedOutput(); err != nil {
				b.Fatalf("agent members: %v\n%s", err, out)
			}
		}
		cliRTT := time.Since(start) / 10

		idle := time.NewTimer(10 * time.Second) // the idle period being measured
		<-idle.C
		var rss int64
		for _, p := range ps {
			rss += rssKB(b, p.cmd.Process.Pid)
		}
		b.ReportMetric(converge.Seconds(), "converge-s")
		b.ReportMetric(float64(rss)/n/1024, "RSS-MiB/agent")
		b.ReportMetric(float64(ready.Milliseconds())/n, "ready-ms")
		b.ReportMetric(float64(rpcRTT.Microseconds())/1000, "members-rpc-ms")
		b.ReportMetric(float64(cliRTT.Microseconds())/1000, "members-cli-ms")
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
