package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/agentd/agent/agent"
	"github.com/spf13/cobra"
)

// Exit codes. execute is the only place that chooses one.
const (
	exitOK      = 0 // the command did what was asked
	exitFailure = 1 // the command ran and failed (agent unreachable, agent error, ...)
	exitUsage   = 2 // the command line was wrong; nothing was attempted
)

// env is everything the CLI takes from its process: output streams, the
// environment, and the daemon entry point. Tests substitute each.
type env struct {
	stdout   io.Writer
	stderr   io.Writer
	getenv   func(string) string
	runAgent func(context.Context, agent.RunOptions) error
}

// processEnv is the env of the real process.
func processEnv() env {
	return env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, runAgent: runDaemon}
}

// runDaemon is agent.Run for the real process, on one processor for Go
// code (GOMAXPROCS 1) unless the GOMAXPROCS environment variable says
// otherwise. The agent handles a few messages a second; with more
// processors the Go runtime wakes idle threads to look for work, which on
// a busy machine is most of what the agent costs: 100 agents started
// together on 2 cores converged in 3.1 s instead of 5.0 s (make bench,
// agent fleet rows). Handler scripts are separate processes, unaffected.
func runDaemon(ctx context.Context, o agent.RunOptions) error {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return agent.Run(ctx, o)
}

// execute runs the command line args and returns the process exit code. An
// error is printed to stderr as a single line, "error: ...".
func execute(ctx context.Context, args []string, e env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "error: %s\n", oneLine(err))
	var f *failure
	if errors.As(err, &f) {
		return exitFailure
	}
	// A usageError from a command, or what cobra rejects before running
	// one: unknown commands and flags, bad flag values, wrong arguments.
	return exitUsage
}

// newRootCmd builds the whole command tree. Every command writes to
// cmd.OutOrStdout() and cmd.ErrOrStderr(), which are e's streams.
func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "agent",
		Short: "Gossip membership agent, wire-compatible with Serf 0.10",
		Long: `agent is a gossip membership daemon that forms one cluster with HashiCorp Serf 0.10
agents. "agent run" starts the daemon; the other commands talk to a running daemon
over its RPC address.

Client commands find the agent at --rpc-addr, else $AGENT_RPC_ADDR, else
127.0.0.1:7373, and authenticate with --rpc-auth, else $AGENT_RPC_AUTH.

Exit codes: 0 success, 1 failure (the agent is unreachable or reported an error),
2 usage error (bad command line; nothing was attempted). Errors are printed to
stderr as one line starting with "error: ".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          rejectUnknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SuggestionsMinimumDistance = 2
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(
		newRunCmd(e),
		newMembersCmd(e),
		newJoinCmd(e),
		newLeaveCmd(e),
		newForceLeaveCmd(e),
		newTagsCmd(e),
		newEventCmd(e),
		newQueryCmd(e),
		newReachabilityCmd(e),
		newRTTCmd(e),
		newInfoCmd(e),
		newMonitorCmd(e),
		newKeygenCmd(),
		newKeysCmd(e),
		newVersionCmd(),
	)
	markFailures(root)
	return root
}

// markFailures wraps the RunE of cmd and its subcommands so that an error
// they return counts as a failure, unless it is a usageError.
func markFailures(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var u *usageError
			if err == nil || errors.As(err, &u) {
				return err
			}
			return &failure{err: err}
		}
	}
	for _, c := range cmd.Commands() {
		markFailures(c)
	}
}

// rejectUnknownCommand is the root's argument check: any argument there is
// a command name that does not exist.
func rejectUnknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		return usageErrorf("unknown command %q (did you mean %q?)", args[0], s[0])
	}
	return usageErrorf("unknown command %q; run 'agent --help' for the list", args[0])
}

// usageError is a command line that cannot be acted on (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failure is an error from a command that ran (exit code 1).
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// shownError is an error whose text was written for the user, keeping the
// underlying error for errors.Is and errors.As.
type shownError struct {
	msg string
	err error
}

func (e *shownError) Error() string { return e.msg }
func (e *shownError) Unwrap() error { return e.err }

// oneLine joins the lines of a multi-line error (errors.Join, cobra's
// suggestions) so that every error prints as a single line.
func oneLine(err error) string {
	var parts []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// noArgs, exactArgs and minArgs check positional arguments, reporting a
// usage error that names what was expected.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes exactly %d argument (%s), got %d", cmd.CommandPath(), n, what, len(args))
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageErrorf("%s takes %d to %d arguments (%s), got %d", cmd.CommandPath(), lo, hi, what, len(args))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s needs at least %d argument (%s)", cmd.CommandPath(), n, what)
		}
		return nil
	}
}
