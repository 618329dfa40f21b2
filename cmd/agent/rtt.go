package main

import (
	"fmt"
	"time"

	"github.com/agentd/agent/gossip/vivaldi"
	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

func newRTTCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rtt NODE [NODE]",
		Short: "Estimate the round-trip time between two nodes",
		Long: `Estimate the network round-trip time between two members from their Vivaldi
coordinates, without sending a packet. With one NODE, the other is the agent's
own node. Coordinates settle over the first minutes after a node joins, as its
pings complete; Serf agents' coordinates are used too.`,
		Example: `  agent rtt web-2
  agent rtt web-1 db-3`,
		Args: rangeArgs(1, 2, "NODE [NODE]"),
	}
	target := addRPCFlags(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			a, b := args[0], ""
			if len(args) == 2 {
				b = args[1]
			} else {
				stats, err := c.Stats(cmd.Context())
				if err != nil {
					return callError("rtt", err)
				}
				b = stats["agent"]["name"]
			}
			ca, err := coordinateOf(cmd, c, a)
			if err != nil {
				return err
			}
			cb, err := coordinateOf(cmd, c, b)
			if err != nil {
				return err
			}
			if !ca.Compatible(cb) {
				return fmt.Errorf("rtt: the coordinates of %s and %s have different dimensions", a, b)
			}
			d := ca.DistanceTo(cb)
			fmt.Fprintf(cmd.OutOrStdout(), "Estimated %s <-> %s rtt: %.3f ms (using LAN coordinates)\n", a, b, float64(d)/float64(time.Millisecond))
			return nil
		})
	}
	return cmd
}

func coordinateOf(cmd *cobra.Command, c *rpc.Client, node string) (*vivaldi.Coordinate, error) {
	coord, ok, err := c.GetCoordinate(cmd.Context(), node)
	if err != nil {
		return nil, callError("rtt", err)
	}
	if !ok {
		return nil, fmt.Errorf("rtt: no coordinate for %s yet (unknown node, coordinates disabled, or no ping completed)", node)
	}
	return &vivaldi.Coordinate{Vec: coord.Vec, Error: coord.Error, Adjustment: coord.Adjustment, Height: coord.Height}, nil
}
