package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/agent"
)

// cliResult is what one CLI invocation produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// testEnv returns an env with empty process environment (plus vars), and a
// runAgent that fails the test: client tests never start a daemon.
func testEnv(t *testing.T, stdout, stderr *syncBuffer, vars map[string]string) env {
	return env{
		stdout: stdout,
		stderr: stderr,
		getenv: func(k string) string { return vars[k] },
		runAgent: func(context.Context, agent.RunOptions) error {
			t.Error("agent.Run called unexpectedly")
			return errors.New("unexpected agent.Run")
		},
	}
}

// runCLI runs the CLI with args to completion.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

// runCLIEnv runs the CLI with args and the given environment variables.
func runCLIEnv(t *testing.T, vars map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr syncBuffer
	code := execute(t.Context(), args, testEnv(t, &stdout, &stderr, vars))
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// check fails the test unless r has the wanted exit code and stderr.
func (r cliResult) check(t *testing.T, wantCode int, wantStderr string) {
	t.Helper()
	if r.code != wantCode || r.stderr != wantStderr {
		t.Fatalf("exit code %d, stderr %q; want %d, %q (stdout %q)", r.code, r.stderr, wantCode, wantStderr, r.stdout)
	}
}

// syncBuffer is an io.Writer safe for concurrent use that can wait for
// text to appear.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until the buffer contains s, failing the test after a
// deadline.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("output %q does not contain %q after 10s", b.String(), s)
		}
	}
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
