package main

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

// pingQuery is the internal query `agent reachability` sends.
const pingQuery = "_serf_ping"

func newQueryCmd(e env) *cobra.Command {
	var (
		nodes       []string
		tags        = newKeyValues("key=regexp")
		timeout     durationValue
		noAck       bool
		relayFactor uint8
		format      = &formatValue{f: formatText}
	)
	cmd := &cobra.Command{
		Use:   "query [flags] NAME [PAYLOAD]",
		Short: "Ask the cluster a question and gather the answers",
		Long: `Send a query to the cluster through the running agent. Every node that matches
the filters delivers it to its query handlers (query or query:NAME), whose output
is that node's answer, and to RPC streams.

Acks and responses are printed as they arrive. The command ends as soon as every
node that matched the filters has answered (and acked, unless --no-ack), or at
the timeout (default: the agent's, Serf's formula GossipInterval x 16 x
ceil(log10(N+1))). A node whose answer exceeds its query_response_size_limit
answers with an error text instead.

--tag filters use regular expressions matched anywhere in the tag's value, as in
Serf; anchor them (^web$) for an exact match. With --format json one object is
printed at the end: {"Acks": [...], "Responses": {"node": "payload"}}.`,
		Example: `  agent query uptime
  agent query --tag role=^web$ --timeout 2s load
  agent query --node web-1 --node web-2 --format json version`,
		Args: rangeArgs(1, 2, "NAME [PAYLOAD]"),
	}
	target := addRPCFlags(cmd, e)
	f := cmd.Flags()
	f.StringArrayVar(&nodes, "node", nil, "ask only the node `NAME`; repeatable")
	f.Var(tags, "tag", "ask only nodes whose tag matches, `KEY=REGEXP`; repeatable")
	f.Var(&timeout, "timeout", "how long to wait for answers (default: the agent's)")
	f.BoolVar(&noAck, "no-ack", false, "do not ask nodes to acknowledge the query")
	f.Uint8Var(&relayFactor, "relay-factor", 0, "also send each answer through `N` random members (0-5)")
	f.Var(format, "format", "output `FORMAT`: text or json")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if relayFactor > 5 {
			return usageErrorf("--relay-factor must be 0-5, got %d", relayFactor)
		}
		var payload []byte
		if len(args) == 2 {
			payload = []byte(args[1])
		}
		p := rpc.QueryParams{FilterNodes: nodes, FilterTags: tags.m, RequestAck: !noAck, RelayFactor: relayFactor, Timeout: timeout.d}
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			return runQuery(cmd, c, args[0], payload, p, format.f)
		})
	}
	return cmd
}

func runQuery(cmd *cobra.Command, c *rpc.Client, name string, payload []byte, p rpc.QueryParams, format string) error {
	out := cmd.OutOrStdout()
	answers, err := c.Query(cmd.Context(), name, payload, p)
	if err != nil {
		return callError("query "+name, err)
	}
	text := format != formatJSON
	if text {
		fmt.Fprintf(out, "Query '%s' dispatched\n", name)
	}
	acks := []string{}
	responses := map[string]string{}
	for a := range answers {
		if a.Ack {
			acks = append(acks, a.From)
			if text {
				fmt.Fprintf(out, "Ack from '%s'\n", a.From)
			}
			continue
		}
		responses[a.From] = string(a.Payload)
		if text {
			fmt.Fprintf(out, "Response from '%s': %s\n", a.From, a.Payload)
		}
	}
	if !text {
		sort.Strings(acks)
		return writeJSON(out, map[string]any{"Acks": acks, "Responses": responses})
	}
	fmt.Fprintf(out, "Total Acks: %d\nTotal Responses: %d\n", len(acks), len(responses))
	return nil
}

func newReachabilityCmd(e env) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "reachability [flags]",
		Short: "Check that every live member answers",
		Long: `Ask every member to acknowledge an internal ping query (_serf_ping), and compare
the acks with the members the agent believes alive. Exits 1 if some live member
did not answer: the network may be partitioned or filtered (UDP blocked one way
is a common cause).`,
		Example: `  agent reachability
  agent reachability --verbose`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every ack as it arrives")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		out := cmd.OutOrStdout()
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			members, err := c.Members(cmd.Context())
			if err != nil {
				return callError("members", err)
			}
			var live []string
			for _, m := range members {
				if m.Status.String() == "alive" {
					live = append(live, m.Name)
				}
			}
			fmt.Fprintln(out, "Starting reachability test...")
			start := time.Now()
			answers, err := c.Query(cmd.Context(), pingQuery, nil, rpc.QueryParams{RequestAck: true})
			if err != nil {
				return callError("reachability", err)
			}
			acked := map[string]bool{}
			for a := range answers {
				if a.Ack {
					acked[a.From] = true
					if verbose {
						fmt.Fprintf(out, "\tAck from '%s'\n", a.From)
					}
				}
			}
			var missing []string
			for _, name := range live {
				if !acked[name] {
					missing = append(missing, name)
				}
			}
			slices.Sort(missing)
			fmt.Fprintf(out, "Total members: %d, live members: %d, acks: %d, in %s\n", len(members), len(live), len(acked), time.Since(start).Round(time.Millisecond))
			if len(missing) > 0 {
				return fmt.Errorf("no ack from %d live member(s): %v", len(missing), missing)
			}
			fmt.Fprintln(out, "Successfully contacted all live nodes")
			return nil
		})
	}
	return cmd
}
