package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/agent"
)

// TestDaemonThroughCLI runs the real daemon in-process through `agent run`
// (gossip and RPC on free 127.0.0.1 ports), drives it with the client
// commands, and ends it with `agent leave`: run must then exit cleanly.
func TestDaemonThroughCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real agent")
	}
	ready := make(chan string, 1)
	var stdout, stderr syncBuffer
	e := testEnv(t, &stdout, &stderr, nil)
	e.runAgent = func(ctx context.Context, opts agent.RunOptions) error {
		opts.Ready = func(rpcAddr, _ string) { ready <- rpcAddr }
		return agent.Run(ctx, opts)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"run", "--node", "cli-test", "--bind", "127.0.0.1:0",
			"--rpc-addr", "127.0.0.1:0", "--tag", "role=test", "--log-level", "debug"}, e)
	}()

	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("agent run exited with %d before serving; stderr:\n%s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("agent run not serving after 30s; stderr:\n%s", stderr.String())
	}

	res := runCLI(t, "members", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	if !strings.Contains(res.stdout, "cli-test") || !strings.Contains(res.stdout, "alive   role=test") {
		t.Errorf("members =\n%s\nwant cli-test alive with role=test", res.stdout)
	}
	runCLI(t, "tags", "--rpc-addr", addr, "--set", "zone=a", "--delete", "role").check(t, exitOK, "")
	res = runCLI(t, "info", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	for _, want := range []string{"\tname = cli-test\n", "tags:\n\tzone = a\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("info =\n%s\nwant it to contain %q", res.stdout, want)
		}
	}
	runCLI(t, "force-leave", "--rpc-addr", addr, "ghost").check(t, exitFailure, "error: force-leave ghost: no such member\n")

	res = runCLI(t, "leave", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	if res.stdout != "Graceful leave complete\n" {
		t.Errorf("leave stdout = %q; want %q", res.stdout, "Graceful leave complete\n")
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("agent run exit code after leave = %d; want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent run still running 30s after leave; stderr:\n%s", stderr.String())
	}
}
