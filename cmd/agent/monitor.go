package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

// monitorLevel maps an accepted --log-level spelling to the name the RPC
// protocol uses.
func monitorLevel(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "trace":
		return "TRACE", true
	case "debug":
		return "DEBUG", true
	case "info":
		return "INFO", true
	case "warn", "warning":
		return "WARN", true
	case "err", "error":
		return "ERR", true
	}
	return "", false
}

func newMonitorCmd(e env) *cobra.Command {
	var level string
	var withEvents bool
	cmd := &cobra.Command{
		Use:   "monitor [flags]",
		Short: "Stream the agent's log lines, and with --events its events",
		Long: `Stream the running agent's log lines to stdout: first the recent lines it has
kept, then new ones as they are written, until interrupted (Ctrl-C). The level
is independent of the one the agent logs at, so a monitor can see debug lines of
an agent that logs at info. With --events, the events the agent delivers to its
handlers (member changes, user events, queries) are interleaved, one line each,
starting with "[EVENT]".

The exit code is 0 when interrupted, 1 when the agent closes the connection
(it stopped, or it is shutting down).`,
		Example: `  agent monitor
  agent monitor --log-level debug --events`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().StringVar(&level, "log-level", "info", "lowest `LEVEL` to show: trace, debug, info, warn or err")
	cmd.Flags().BoolVar(&withEvents, "events", false, "also show every event the agent delivers")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		wire, ok := monitorLevel(level)
		if !ok {
			return usageErrorf("invalid --log-level %q (want trace, debug, info, warn or err)", level)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return target.withClient(ctx, func(c *rpc.Client) error {
			lines, _, err := c.Monitor(ctx, wire)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted while starting
				}
				return callError("monitor", err)
			}
			var evs <-chan events.Event
			if withEvents {
				if evs, _, err = c.Stream(ctx, "*"); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return callError("monitor", err)
				}
			}
			out := cmd.OutOrStdout()
			closed := func() error {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("monitor: the agent closed the connection (it stopped or is shutting down)")
			}
			for {
				var text string
				select {
				case <-ctx.Done():
					return nil
				case line, ok := <-lines:
					if !ok {
						return closed()
					}
					text = line
				case ev, ok := <-evs:
					if !ok {
						return closed()
					}
					text = "[EVENT] " + describeEvent(ev)
				}
				if _, err := fmt.Fprintln(out, text); err != nil {
					return fmt.Errorf("monitor: %w", err)
				}
			}
		})
	}
	return cmd
}

// describeEvent is one line about an event: its kind and what it is about.
func describeEvent(ev events.Event) string {
	switch e := ev.(type) {
	case events.MemberEvent:
		parts := make([]string, len(e.Members))
		for i, m := range e.Members {
			parts[i] = fmt.Sprintf("%s %s", m.Name, m.Addr)
		}
		return fmt.Sprintf("%s: %s", e.Type, strings.Join(parts, ", "))
	case events.UserEvent:
		return fmt.Sprintf("user: %s (ltime %d, coalesce %t) payload %q", e.Name, e.LTime, e.Coalesce, e.Payload)
	case *events.QueryEvent:
		return fmt.Sprintf("query: %s (ltime %d) payload %q", e.Name, e.LTime, e.Payload)
	}
	return ev.EventType().String()
}
