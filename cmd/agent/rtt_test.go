package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestRTT(t *testing.T) {
	f := &rpctest.Agent{
		StatsMap: map[string]map[string]string{"agent": {"name": "a"}},
		Coords: map[string]rpc.Coordinate{
			"a": {Vec: []float64{0, 0, 0, 0, 0, 0, 0, 0}, Height: 0.0005},
			"b": {Vec: []float64{0.003, 0.004, 0, 0, 0, 0, 0, 0}, Height: 0.0005},
		},
	}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "rtt", "--rpc-addr", addr, "b")
	res.check(t, exitOK, "")
	if want := "Estimated b <-> a rtt: 6.000 ms (using LAN coordinates)\n"; res.stdout != want {
		t.Errorf("rtt b = %q; want %q", res.stdout, want)
	}
	res = runCLI(t, "rtt", "--rpc-addr", addr, "a", "nobody")
	res.check(t, exitFailure, "error: rtt: no coordinate for nobody yet (unknown node, coordinates disabled, or no ping completed)\n")
}

// TestEndToEndRTT: two agent processes estimate a positive round trip.
func TestEndToEndRTT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildAgent(t)
	a := startAgent(t, bin, "rtt-a", "")
	waitListening(t, a)
	b := startAgent(t, bin, "rtt-b", a.gossip)
	waitListening(t, b)
	re := regexp.MustCompile(`rtt: ([0-9.]+) ms`)
	waitUntil(t, 30*time.Second, func() string {
		out, err := exec.Command(bin, "rtt", "--rpc-addr", a.rpc, "rtt-b").CombinedOutput()
		if err != nil {
			return string(out)
		}
		m := re.FindSubmatch(out)
		if m == nil {
			return "unexpected output: " + string(out)
		}
		if ms, _ := strconv.ParseFloat(string(m[1]), 64); ms <= 0 {
			return "non-positive estimate: " + string(out)
		}
		return ""
	})
}
