package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

func newMembersCmd(e env) *cobra.Command {
	var (
		status, name string
		tags         = newKeyValues("key=regexp")
		format       = &formatValue{f: formatText}
		detailed     bool
	)
	cmd := &cobra.Command{
		Use:   "members [flags]",
		Short: "List the members of the cluster",
		Long: `List the members of the cluster as the agent sees them, in every status
(alive, leaving, left, failed), sorted by name.

--status, --name and --tag filter with regular expressions that must match the
whole value ("web" does not match "webserver"); a member without the tag has the
value "". Filters combine with AND.

Text output is a table: NAME, ADDR (IP:PORT), STATUS and TAGS (k=v,k=v sorted by
key); --detailed adds PROTOCOL (the Serf protocol version the member speaks) and
RANGE (the versions it understands, MIN-MAX).

JSON output (--format json) is one object:

    {
      "members": [
        {
          "name": "web-1",
          "addr": "10.0.0.5:7946",
          "port": 7946,
          "tags": {"role": "web"},
          "status": "alive",
          "protocol": {"min": 2, "max": 5, "version": 5}
        }
      ]
    }

"addr" is IP:PORT ([IPv6]:PORT); "tags" is always an object; "protocol" is the
Serf (delegate) protocol, as in "serf members -format json". Keys appear in
this order; "members" is [] when nothing matches.`,
		Example: `  agent members
  agent members --status alive --tag role='web|db' --format json`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only members whose status matches `REGEXP`")
	f.StringVar(&name, "name", "", "only members whose name matches `REGEXP`")
	f.Var(tags, "tag", "only members with a tag matching `KEY=REGEXP`; repeatable")
	f.Var(format, "format", "output `FORMAT`: text or json")
	f.BoolVar(&detailed, "detailed", false, "add protocol versions to text output")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		filter := rpc.MemberFilter{Status: status, Name: name, Tags: tags.m}
		if err := checkPatterns(filter); err != nil {
			return err
		}
		var members []events.Member
		err := target.withClient(cmd.Context(), func(c *rpc.Client) error {
			var err error
			members, err = listMembers(cmd.Context(), c, filter)
			return err
		})
		if err != nil {
			return err
		}
		slices.SortFunc(members, func(a, b events.Member) int { return strings.Compare(a.Name, b.Name) })
		if format.f == formatJSON {
			return writeJSON(cmd.OutOrStdout(), membersOutput(members))
		}
		return writeMembersTable(cmd.OutOrStdout(), members, detailed)
	}
	return cmd
}

// checkPatterns compiles the filters locally, so a typo is a usage error
// that names the flag rather than an answer from the agent.
func checkPatterns(f rpc.MemberFilter) error {
	check := func(flag, p string) error {
		if _, err := regexp.Compile(p); err != nil {
			return usageErrorf("invalid %s pattern %q: %v", flag, p, err)
		}
		return nil
	}
	if err := check("--status", f.Status); err != nil {
		return err
	}
	if err := check("--name", f.Name); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(f.Tags)) {
		if err := check("--tag "+k, f.Tags[k]); err != nil {
			return err
		}
	}
	return nil
}

// listMembers asks for every member, or for the filtered ones when a
// filter is set.
func listMembers(ctx context.Context, c *rpc.Client, f rpc.MemberFilter) ([]events.Member, error) {
	var (
		ms  []events.Member
		err error
	)
	if f.Status == "" && f.Name == "" && len(f.Tags) == 0 {
		ms, err = c.Members(ctx)
	} else {
		ms, err = c.MembersFiltered(ctx, f)
	}
	if err != nil {
		return nil, callError("members", err)
	}
	return ms, nil
}

// membersJSON is the JSON output of `agent members`, Serf's shape. Structs
// keep the keys in a fixed order.
type membersJSON struct {
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	Name     string            `json:"name"`
	Addr     string            `json:"addr"`
	Port     uint16            `json:"port"`
	Tags     map[string]string `json:"tags"`
	Status   string            `json:"status"`
	Protocol protocolJSON      `json:"protocol"`
}

type protocolJSON struct {
	Min     uint8 `json:"min"`
	Max     uint8 `json:"max"`
	Version uint8 `json:"version"`
}

func membersOutput(ms []events.Member) membersJSON {
	out := membersJSON{Members: make([]memberJSON, 0, len(ms))}
	for _, m := range ms {
		tags := m.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out.Members = append(out.Members, memberJSON{
			Name:     m.Name,
			Addr:     memberAddr(m),
			Port:     m.Port,
			Tags:     tags,
			Status:   m.Status.String(),
			Protocol: protocolJSON{Min: m.DelegateMin, Max: m.DelegateMax, Version: m.DelegateCur},
		})
	}
	return out
}

// memberAddr is "ip:port", "[ipv6]:port".
func memberAddr(m events.Member) string {
	return (&net.TCPAddr{IP: m.Addr, Port: int(m.Port)}).String()
}

// writeMembersTable writes the text output: an aligned table with a header.
func writeMembersTable(w io.Writer, ms []events.Member, detailed bool) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	header := "NAME\tADDR\tSTATUS\tTAGS"
	if detailed {
		header += "\tPROTOCOL\tRANGE"
	}
	fmt.Fprintln(tw, header)
	for _, m := range ms {
		line := fmt.Sprintf("%s\t%s\t%s\t%s", m.Name, memberAddr(m), m.Status, joinTags(m.Tags))
		if detailed {
			line += fmt.Sprintf("\t%d\t%d-%d", m.DelegateCur, m.DelegateMin, m.DelegateMax)
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// An empty last cell (a member without tags) leaves padding behind.
	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
