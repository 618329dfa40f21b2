package main

import (
	"fmt"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

func newEventCmd(e env) *cobra.Command {
	var coalesce bool
	cmd := &cobra.Command{
		Use:   "event [flags] NAME [PAYLOAD]",
		Short: "Fire a user event to every member of the cluster",
		Long: `Fire a custom user event through the running agent. Every member of the
cluster delivers it once to its event handlers (SERF_EVENT=user,
SERF_USER_EVENT=NAME, the payload on stdin) and to RPC streams.

With --coalesce (the default, as in Serf), a burst of events of the same name
may reach handlers as only the latest one; --coalesce=false delivers every one.
NAME and PAYLOAD together must fit the agent's user_event_size_limit (512
bytes by default).`,
		Example: `  agent event deploy v42
  agent event --coalesce=false restart`,
		Args: rangeArgs(1, 2, "NAME [PAYLOAD]"),
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().BoolVar(&coalesce, "coalesce", true, "allow a burst of events of this name to be delivered as only the latest")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if name == "" {
			return usageErrorf("the event name must not be empty")
		}
		var payload []byte
		if len(args) == 2 {
			payload = []byte(args[1])
		}
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			if err := c.UserEvent(cmd.Context(), name, payload, coalesce); err != nil {
				return callError("event "+name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Event '%s' dispatched! Coalescing enabled: %t\n", name, coalesce)
			return nil
		})
	}
	return cmd
}
