package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/agentd/agent/agent"
)

func TestVersion(t *testing.T) {
	res := runCLI(t, "version")
	res.check(t, exitOK, "")
	if want := "agent " + agent.Version + " (" + runtime.Version() + ")\n"; res.stdout != want {
		t.Errorf("version = %q; want %q", res.stdout, want)
	}
	res = runCLI(t, "version", "--format", "json")
	res.check(t, exitOK, "")
	var v versionJSON
	if err := json.Unmarshal([]byte(res.stdout), &v); err != nil || v.Version != agent.Version || v.Go != runtime.Version() {
		t.Errorf("version --format json = %q (err %v); want version %q and go %q", res.stdout, err, agent.Version, runtime.Version())
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"help"}, {"help", "members"}, {"members", "--help"}, {"run", "-h"}} {
		res := runCLI(t, args...)
		res.check(t, exitOK, "")
		if !strings.Contains(res.stdout, "Usage:") {
			t.Errorf("agent %q stdout = %q; want help text", args, res.stdout)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"simple", "simple"},
		{"a\nb", "a; b"},
		{"unknown command \"x\"\n\nDid you mean this?\n\tmembers\n", "unknown command \"x\"; Did you mean this?; members"},
	}
	for _, tt := range tests {
		if got := oneLine(stringError(tt.in)); got != tt.want {
			t.Errorf("oneLine(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

type stringError string

func (e stringError) Error() string { return string(e) }
