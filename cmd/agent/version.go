package main

import (
	"fmt"
	"runtime"

	"github.com/agentd/agent/agent"
	"github.com/spf13/cobra"
)

// versionJSON is the JSON output of `agent version`.
type versionJSON struct {
	Version string `json:"version"`
	Go      string `json:"go"`
}

func newVersionCmd() *cobra.Command {
	format := &formatValue{f: formatText}
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Print the version of this binary",
		Long: `Print the version of this binary and the Go release it was built with. It does
not contact an agent; "agent info" shows a running agent's version.`,
		Example: `  agent version
  agent version --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionJSON{Version: agent.Version, Go: runtime.Version()}
			if format.f == formatJSON {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "agent %s (%s)\n", v.Version, v.Go)
			return err
		},
	}
	cmd.Flags().Var(format, "format", "output `FORMAT`: text or json")
	return cmd
}
