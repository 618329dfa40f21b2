package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
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

func TestMonitorEvents(t *testing.T) {
	f := &rpctest.Agent{}
	f.Log(slog.LevelInfo, "attached")
	addr, _ := serve(t, f, "")
	stdout, cancel, done := startMonitor(t, addr, "--events")
	stdout.waitFor(t, "attached\n")
	waitUntil(t, 10*time.Second, func() string {
		if f.EventSubscribers() == 0 {
			return "the monitor did not open an event stream"
		}
		return ""
	})
	f.Publish(events.MemberEvent{Type: events.MemberJoin, Members: []events.Member{{Name: "web-2", Addr: net.IPv4(10, 0, 0, 2)}}})
	f.Publish(events.UserEvent{LTime: 7, Name: "deploy", Payload: []byte("v42")})
	stdout.waitFor(t, `[EVENT] user: deploy (ltime 7, coalesce false) payload "v42"`+"\n")
	cancel()
	res := <-done
	res.check(t, exitOK, "")
	if !strings.Contains(res.stdout, "[EVENT] member-join: web-2 10.0.0.2\n") {
		t.Errorf("monitor --events stdout = %q; want the member-join line", res.stdout)
	}
}
