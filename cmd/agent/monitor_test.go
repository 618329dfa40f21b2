package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/agentd/agent/rpc/rpctest"
)

// startMonitor runs `agent monitor` in the background and returns its
// stdout, a cancel func (Ctrl-C) and a channel with its result.
func startMonitor(t *testing.T, addr string, args ...string) (*syncBuffer, context.CancelFunc, <-chan cliResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan cliResult, 1)
	go func() {
		code := execute(ctx, append([]string{"monitor", "--rpc-addr", addr}, args...), testEnv(t, stdout, stderr, nil))
		done <- cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	return stdout, cancel, done
}

func TestMonitorStreamsUntilInterrupted(t *testing.T) {
	f := &rpctest.Agent{}
	f.Log(slog.LevelInfo, "[INFO] agent: started")
	f.Log(slog.LevelDebug, "[DEBUG] memberlist: probe")
	addr, _ := serve(t, f, "")
	stdout, cancel, done := startMonitor(t, addr, "--log-level", "DEBUG")

	stdout.waitFor(t, "[DEBUG] memberlist: probe\n") // the recent lines, so the monitor is attached
	f.Log(slog.LevelInfo, "[INFO] agent: live line")
	stdout.waitFor(t, "[INFO] agent: live line\n")

	cancel()
	res := <-done
	res.check(t, exitOK, "")
	if want := "[INFO] agent: started\n[DEBUG] memberlist: probe\n[INFO] agent: live line\n"; res.stdout != want {
		t.Errorf("monitor stdout = %q; want %q", res.stdout, want)
	}
}

func TestMonitorAgentGoesAway(t *testing.T) {
	f := &rpctest.Agent{}
	f.Log(slog.LevelInfo, "hello")
	addr, srv := serve(t, f, "")
	stdout, _, done := startMonitor(t, addr)
	stdout.waitFor(t, "hello\n")

	srv.Shutdown()
	res := <-done
	res.check(t, exitFailure, "error: monitor: the agent closed the connection (it stopped or is shutting down)\n")
}
