package handlers

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agentd/agent/events"
)

// tagNameUnsafe matches what Serf replaces in a tag name, upper-cased, to
// make an environment variable name.
var tagNameUnsafe = regexp.MustCompile(`[^A-Z0-9_]`)

// Environment variables handlers receive. SERF_* are Serf's, so Serf
// handler scripts run unchanged; AGENT_* are our additions.
const (
	EnvEvent     = "SERF_EVENT"      // member-join, ..., user, query
	EnvSelfName  = "SERF_SELF_NAME"  // the local node's name
	EnvSelfRole  = "SERF_SELF_ROLE"  // the local node's "role" tag
	EnvTagPrefix = "SERF_TAG_"       // one per local tag: SERF_TAG_<KEY>
	EnvUserEvent = "SERF_USER_EVENT" // a user event's name
	EnvUserLTime = "SERF_USER_LTIME" // a user event's Lamport time
	EnvQueryName = "SERF_QUERY_NAME" // a query's name
	EnvQueryTime = "SERF_QUERY_LTIME"
	// EnvSelfAddr is the local node's gossip address, "ip:port".
	EnvSelfAddr = "AGENT_SELF_ADDR"
)

// TagEnvName returns the variable a local tag is passed in: SERF_TAG_ and
// the key upper-cased, with characters outside A-Z, 0-9 and _ made _.
func TagEnvName(key string) string {
	return EnvTagPrefix + tagNameUnsafe.ReplaceAllString(strings.ToUpper(key), "_")
}

// invocation is what one handler run is given besides the command.
type invocation struct {
	env   []string // added to the agent's environment
	stdin []byte
	name  string // user event or query name, for filters; "" for members
}

// newInvocation builds the environment and stdin for event e on the node
// self, as Serf does. It reports false for an event handlers do not see.
func newInvocation(self events.Member, e events.Event) (invocation, bool) {
	inv := invocation{env: []string{
		EnvEvent + "=" + e.EventType().String(),
		EnvSelfName + "=" + self.Name,
		EnvSelfRole + "=" + self.Tags["role"],
	}}
	if self.Addr != nil {
		inv.env = append(inv.env, EnvSelfAddr+"="+net.JoinHostPort(self.Addr.String(), strconv.Itoa(int(self.Port))))
	}
	for _, k := range slices.Sorted(maps.Keys(self.Tags)) {
		inv.env = append(inv.env, TagEnvName(k)+"="+self.Tags[k])
	}
	switch e := e.(type) {
	case events.MemberEvent:
		inv.stdin = memberLines(e.Members)
	case events.UserEvent:
		inv.name = e.Name
		inv.env = append(inv.env, EnvUserEvent+"="+e.Name, fmt.Sprintf("%s=%d", EnvUserLTime, e.LTime))
		inv.stdin = payloadLine(e.Payload)
	case *events.QueryEvent:
		inv.name = e.Name
		inv.env = append(inv.env, EnvQueryName+"="+e.Name, fmt.Sprintf("%s=%d", EnvQueryTime, e.LTime))
		inv.stdin = payloadLine(e.Payload)
	default:
		return invocation{}, false
	}
	return inv, true
}

// memberLines writes one line per member: name, address, role and the
// tags as k=v pairs (sorted by key), tab-separated; tabs and newlines
// inside values are escaped as \t and \n.
func memberLines(ms []events.Member) []byte {
	var b strings.Builder
	for _, m := range ms {
		pairs := make([]string, 0, len(m.Tags))
		for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
			pairs = append(pairs, k+"="+m.Tags[k])
		}
		addr := ""
		if m.Addr != nil {
			addr = m.Addr.String()
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", clean(m.Name), addr, clean(m.Tags["role"]), clean(strings.Join(pairs, ",")))
	}
	return []byte(b.String())
}

// payloadLine returns the payload with a final newline added if missing;
// an empty payload stays empty.
func payloadLine(p []byte) []byte {
	if len(p) == 0 || p[len(p)-1] == '\n' {
		return p
	}
	return append(slices.Clip(p), '\n')
}

var cleaner = strings.NewReplacer("\t", `\t`, "\n", `\n`)

func clean(s string) string { return cleaner.Replace(s) }
