package main

import (
	"maps"
	"testing"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc/rpctest"
)

// clusterAgent is a fake agent with three members, not in name order.
func clusterAgent() *rpctest.Agent {
	return &rpctest.Agent{MembersList: []events.Member{
		rpctest.Member("web-2", "10.0.0.2", events.StatusFailed, map[string]string{"role": "web", "dc": "eu"}),
		rpctest.Member("db-1", "10.0.0.10", events.StatusAlive, map[string]string{"role": "db"}),
		rpctest.Member("bare", "::1", events.StatusLeft, nil),
	}}
}

func TestMembersText(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "")
	res := runCLI(t, "members", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	want := "" +
		"NAME   ADDR            STATUS  TAGS\n" +
		"bare   [::1]:7946      left\n" +
		"db-1   10.0.0.10:7946  alive   role=db\n" +
		"web-2  10.0.0.2:7946   failed  dc=eu,role=web\n"
	if res.stdout != want {
		t.Errorf("members stdout =\n%s\nwant\n%s", res.stdout, want)
	}
}

func TestMembersDetailed(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "")
	res := runCLI(t, "members", "--detailed", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	want := "" +
		"NAME   ADDR            STATUS  TAGS            PROTOCOL  RANGE\n" +
		"bare   [::1]:7946      left                    4         2-5\n" +
		"db-1   10.0.0.10:7946  alive   role=db         4         2-5\n" +
		"web-2  10.0.0.2:7946   failed  dc=eu,role=web  4         2-5\n"
	if res.stdout != want {
		t.Errorf("members --detailed stdout =\n%s\nwant\n%s", res.stdout, want)
	}
}

func TestMembersJSON(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "")
	res := runCLI(t, "members", "--format", "json", "--detailed", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	want := `{
  "members": [
    {
      "name": "bare",
      "addr": "[::1]:7946",
      "port": 7946,
      "tags": {},
      "status": "left",
      "protocol": {
        "min": 2,
        "max": 5,
        "version": 4
      }
    },
    {
      "name": "db-1",
      "addr": "10.0.0.10:7946",
      "port": 7946,
      "tags": {
        "role": "db"
      },
      "status": "alive",
      "protocol": {
        "min": 2,
        "max": 5,
        "version": 4
      }
    },
    {
      "name": "web-2",
      "addr": "10.0.0.2:7946",
      "port": 7946,
      "tags": {
        "dc": "eu",
        "role": "web"
      },
      "status": "failed",
      "protocol": {
        "min": 2,
        "max": 5,
        "version": 4
      }
    }
  ]
}
`
	if res.stdout != want {
		t.Errorf("members --format json stdout =\n%s\nwant\n%s", res.stdout, want)
	}
}

func TestMembersFilters(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--status", "alive|failed"}, "db-1,web-2"},
		{[]string{"--status", "fail"}, ""}, // anchored: no partial match
		{[]string{"--name", "web-.*"}, "web-2"},
		{[]string{"--tag", "role=web|db"}, "db-1,web-2"},
		{[]string{"--tag", "role=db", "--tag", "dc="}, "db-1"}, // a missing tag is ""
		{[]string{"--tag", "role=.*", "--status", "alive"}, "db-1"},
	}
	for _, tt := range tests {
		res := runCLI(t, append([]string{"members", "--format", "json", "--rpc-addr", addr}, tt.args...)...)
		res.check(t, exitOK, "")
		if got := memberNames(t, res.stdout); got != tt.want {
			t.Errorf("members %q = %q; want %q", tt.args, got, tt.want)
		}
	}
}

func TestMembersEmptyJSON(t *testing.T) {
	addr, _ := serve(t, &rpctest.Agent{}, "")
	res := runCLI(t, "members", "--format", "json", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	if want := "{\n  \"members\": []\n}\n"; res.stdout != want {
		t.Errorf("members of an empty cluster = %q; want %q", res.stdout, want)
	}
}

func TestMembersUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"--format", "yaml"}, `error: invalid argument "yaml" for "--format" flag: want text or json, got "yaml"` + "\n"},
		{[]string{"--status", "("}, "error: invalid --status pattern \"(\": error parsing regexp: missing closing ): `(`\n"},
		{[]string{"--tag", "role=["}, "error: invalid --tag role pattern \"[\": error parsing regexp: missing closing ]: `[`\n"},
		{[]string{"--tag", "role"}, `error: invalid argument "role" for "--tag" flag: want KEY=REGEXP, got "role"` + "\n"},
		{[]string{"extra"}, `error: agent members takes no arguments, got "extra"` + "\n"},
	}
	for _, tt := range tests {
		// No agent: a usage error must not try to connect.
		res := runCLI(t, append([]string{"members", "--rpc-addr", closedPort(t)}, tt.args...)...)
		res.check(t, exitUsage, tt.wantStderr)
	}
}

// memberNames returns the names in members JSON output, comma-separated.
func memberNames(t *testing.T, out string) string {
	t.Helper()
	var got membersJSON
	decodeJSON(t, out, &got)
	s := ""
	for i, m := range got.Members {
		if i > 0 {
			s += ","
		}
		s += m.Name
	}
	return s
}

func TestMembersJSONKeepsTags(t *testing.T) {
	f := clusterAgent()
	addr, _ := serve(t, f, "")
	var got membersJSON
	decodeJSON(t, runCLI(t, "members", "--format=json", "--rpc-addr", addr).stdout, &got)
	if len(got.Members) != 3 || !maps.Equal(got.Members[2].Tags, map[string]string{"role": "web", "dc": "eu"}) {
		t.Errorf("members JSON = %+v; want web-2 last with its two tags", got)
	}
}
