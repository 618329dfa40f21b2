package handlers

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"time"
)

// maxOutput is how much of a run's output is kept: the last 8 KB, as in
// Serf.
const maxOutput = 8 * 1024

// waitDelay bounds the wait for a killed handler's output pipes to close,
// which a grandchild that escaped the process group may hold open.
const waitDelay = 2 * time.Second

// result is how one handler run went.
type result struct {
	output   []byte // the last maxOutput bytes of stdout and stderr
	dropped  int    // output bytes beyond those kept
	exitCode int    // -1 when the process did not exit by itself
	timedOut bool
	err      error // nil on exit status 0
	took     time.Duration
}

// runCommand runs command through the shell with env (the full
// environment) and stdin, and kills its whole process group once timeout
// passes or ctx ends.
func runCommand(ctx context.Context, shell, command string, env []string, stdin []byte, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &tailBuffer{max: maxOutput}
	cmd := exec.CommandContext(ctx, shell, "-c", command)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	ownProcessGroup(cmd)
	start := time.Now()
	err := cmd.Run()
	res := result{output: out.bytes(), dropped: out.dropped, exitCode: -1, took: time.Since(start), err: err}
	if cmd.ProcessState != nil {
		res.exitCode = cmd.ProcessState.ExitCode()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.timedOut = true
	}
	return res
}

// tailBuffer keeps the last max bytes written to it and counts the rest.
// exec writes to it from one goroutine when Stdout and Stderr are the same
// writer.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.dropped += over
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return n, nil
}

func (b *tailBuffer) bytes() []byte { return b.buf }
