package main

import (
	"encoding/json"
	"testing"

	"github.com/agentd/agent/rpc/rpctest"
)

func statsAgent() *rpctest.Agent {
	return &rpctest.Agent{StatsMap: map[string]map[string]string{
		"serf":    {"members": "3", "failed": "1", "left": "0"},
		"agent":   {"name": "n1", "version": "0.1.0"},
		"tags":    {"role": "web"},
		"runtime": {"os": "linux", "arch": "amd64"},
	}}
}

func TestInfoText(t *testing.T) {
	addr, _ := serve(t, statsAgent(), "")
	res := runCLI(t, "info", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	want := "agent:\n\tname = n1\n\tversion = 0.1.0\n" +
		"runtime:\n\tarch = amd64\n\tos = linux\n" +
		"serf:\n\tfailed = 1\n\tleft = 0\n\tmembers = 3\n" +
		"tags:\n\trole = web\n"
	if res.stdout != want {
		t.Errorf("info stdout =\n%s\nwant\n%s", res.stdout, want)
	}
}

func TestInfoJSON(t *testing.T) {
	addr, _ := serve(t, statsAgent(), "")
	res := runCLI(t, "info", "--format", "json", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	want := `{
  "agent": {
    "name": "n1",
    "version": "0.1.0"
  },
  "runtime": {
    "arch": "amd64",
    "os": "linux"
  },
  "serf": {
    "failed": "1",
    "left": "0",
    "members": "3"
  },
  "tags": {
    "role": "web"
  }
}
`
	if res.stdout != want {
		t.Errorf("info --format json stdout =\n%s\nwant\n%s", res.stdout, want)
	}
}

// decodeJSON decodes out into v, failing the test on error.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output %q is not JSON: %v", out, err)
	}
}
