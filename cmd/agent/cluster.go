package main

import (
	"fmt"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

// The commands that change the cluster or the local node: join, leave,
// force-leave, tags.

func newJoinCmd(e env) *cobra.Command {
	var replay bool
	cmd := &cobra.Command{
		Use:   "join [flags] ADDR...",
		Short: "Tell the agent to join a cluster",
		Long: `Tell the running agent to join a cluster by contacting one or more of its
members. Each ADDR is IP or IP:PORT; without a port, the agent's own gossip port
is assumed.

It prints how many nodes were contacted. When some addresses fail, the count of
those that answered is still printed, the failures are reported and the exit
code is 1.`,
		Example: `  agent join 10.0.0.2:7946
  agent join --replay 10.0.0.2:7946 10.0.0.3:7946`,
		Args: minArgs(1, "ADDR"),
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().BoolVar(&replay, "replay", false, "replay past user events to this agent's handlers")
	cmd.RunE = func(cmd *cobra.Command, addrs []string) error {
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			n, err := c.Join(cmd.Context(), addrs, replay)
			if err == nil || n > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Successfully joined cluster by contacting %d nodes.\n", n)
			}
			if err != nil {
				return callError("join", err)
			}
			return nil
		})
	}
	return cmd
}

func newLeaveCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "leave [flags]",
		Short: "Leave the cluster gracefully and stop the agent",
		Long: `Tell the running agent to leave the cluster gracefully and then shut down.
The leave counts as done when the agent answers, or when it closes the
connection because it exited.`,
		Example: `  agent leave
  agent leave --rpc-addr 127.0.0.1:7374`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			if err := c.Leave(cmd.Context()); err != nil {
				return callError("leave", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Graceful leave complete")
			return nil
		})
	}
	return cmd
}

func newForceLeaveCmd(e env) *cobra.Command {
	var prune bool
	cmd := &cobra.Command{
		Use:   "force-leave [flags] NODE",
		Short: "Force a failed member into the left state",
		Long: `Force a member of the cluster into the "left" state. Use it to clean out failed
members that are never coming back, rather than wait for them to be reaped; a
member that is in fact alive refutes it and stays. With --prune the member is
also erased from the member list at once. Prints nothing on success.`,
		Example: `  agent force-leave web-3
  agent force-leave --prune web-3`,
		Args: exactArgs(1, "NODE"),
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().BoolVar(&prune, "prune", false, "also erase the member from the member list")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			if err := c.ForceLeave(cmd.Context(), args[0], prune); err != nil {
				return callError("force-leave "+args[0], err)
			}
			return nil
		})
	}
	return cmd
}

func newTagsCmd(e env) *cobra.Command {
	var (
		set    = newKeyValues("key=value")
		remove []string
	)
	cmd := &cobra.Command{
		Use:   "tags [flags]",
		Short: "Change the tags of the agent's node",
		Long: `Change the tags of the running agent's node; the change is gossiped to the
cluster. Deletions apply first, then --set, so a key given to both ends up set.
At least one of --set and --delete is required. If the agent has a tags file it
is rewritten.`,
		Example: `  agent tags --set role=web --set zone=eu-1
  agent tags --delete zone`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().Var(set, "set", "create or change a tag, `KEY=VALUE`; repeatable")
	cmd.Flags().StringArrayVar(&remove, "delete", nil, "remove the tag `KEY`, if present; repeatable")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if len(set.m) == 0 && len(remove) == 0 {
			return usageErrorf("agent tags needs --set or --delete")
		}
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			if err := c.UpdateTags(cmd.Context(), set.m, remove); err != nil {
				return callError("tags", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Successfully updated agent tags")
			return nil
		})
	}
	return cmd
}
