package main

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

func newInfoCmd(e env) *cobra.Command {
	format := &formatValue{f: formatText}
	cmd := &cobra.Command{
		Use:   "info [flags]",
		Short: "Show the agent's debugging figures",
		Long: `Show the running agent's debugging figures, by section: agent (name,
version), runtime (Go runtime), serf (members, failed, left, Lamport clocks,
queues, dropped messages) and tags (this node's tags).

Text output is Serf's "serf info" layout: each section name followed by a colon,
then one "<tab>key = value" line per figure, sections and keys sorted. JSON
output is an object of sections, each an object of string values, keys sorted.`,
		Example: `  agent info
  agent info --format json`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().Var(format, "format", "output `FORMAT`: text or json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var stats map[string]map[string]string
		err := target.withClient(cmd.Context(), func(c *rpc.Client) error {
			var err error
			if stats, err = c.Stats(cmd.Context()); err != nil {
				return callError("info", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if format.f == formatJSON {
			if stats == nil {
				stats = map[string]map[string]string{}
			}
			return writeJSON(cmd.OutOrStdout(), stats)
		}
		return writeStats(cmd.OutOrStdout(), stats)
	}
	return cmd
}

// writeStats writes the stats as `serf info` does.
func writeStats(w io.Writer, stats map[string]map[string]string) error {
	for _, section := range slices.Sorted(maps.Keys(stats)) {
		if _, err := fmt.Fprintf(w, "%s:\n", section); err != nil {
			return err
		}
		vals := stats[section]
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			if _, err := fmt.Fprintf(w, "\t%s = %s\n", k, vals[k]); err != nil {
				return err
			}
		}
	}
	return nil
}
