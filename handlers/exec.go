package handlers

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
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

// runCommand runs command with env (the full environment) and stdin, and
// kills its whole process group once timeout passes or ctx ends. A command
// that is just the path of a program (see programPath) is started directly,
// saving a shell's start on every event; anything else, and a program the
// kernel cannot start by itself (a script without "#!"), runs as
// shell -c command, as in Serf.
func runCommand(ctx context.Context, shell, command string, env []string, stdin []byte, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	out := &tailBuffer{max: maxOutput}
	var cmd *exec.Cmd
	var err error
	if path, ok := programPath(command); ok {
		cmd = newCommand(ctx, env, stdin, out, path)
		err = cmd.Start()
	}
	if cmd == nil || err != nil {
		out.reset()
		cmd = newCommand(ctx, env, stdin, out, shell, "-c", command)
		err = cmd.Start()
	}
	if err == nil {
		err = cmd.Wait()
	}
	res := result{output: out.bytes(), dropped: out.dropped, exitCode: -1, took: time.Since(start), err: err}
	if cmd.ProcessState != nil {
		res.exitCode = cmd.ProcessState.ExitCode()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.timedOut = true
	}
	return res
}

// newCommand prepares one run of name with args in its own process group.
func newCommand(ctx context.Context, env []string, stdin []byte, out *tailBuffer, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	ownProcessGroup(cmd)
	return cmd
}

// programPath reports whether command is nothing but a path to a program,
// "/etc/agent/handler.sh" or "./deploy": one word with a slash in it
// (so no PATH search and no shell builtin is involved) made only of
// characters the shell gives no meaning to. Such a command runs the same
// started directly as through the shell.
func programPath(command string) (string, bool) {
	if command == "" || !strings.Contains(command, "/") {
		return "", false
	}
	for _, c := range command {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("/._-+,:@%", c):
		default:
			return "", false
		}
	}
	return command, true
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

func (b *tailBuffer) reset() { b.buf, b.dropped = b.buf[:0], 0 }
