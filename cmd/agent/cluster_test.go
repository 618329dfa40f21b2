package main

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/agentd/agent/rpc/rpctest"
)

func TestJoin(t *testing.T) {
	f := &rpctest.Agent{JoinN: 2}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "join", "--rpc-addr", addr, "--replay", "10.0.0.1:7946", "10.0.0.2")
	res.check(t, exitOK, "")
	if want := "Successfully joined cluster by contacting 2 nodes.\n"; res.stdout != want {
		t.Errorf("join stdout = %q; want %q", res.stdout, want)
	}
	joins := f.Joins()
	if len(joins) != 1 || !slices.Equal(joins[0].Addrs, []string{"10.0.0.1:7946", "10.0.0.2"}) || !joins[0].Replay {
		t.Errorf("agent got joins %+v; want one of [10.0.0.1:7946 10.0.0.2] with replay", joins)
	}
}

func TestJoinFailure(t *testing.T) {
	f := &rpctest.Agent{JoinErr: errors.Join(errors.New("join a:1: refused"), errors.New("join b:1: refused"))}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "join", "--rpc-addr", addr, "a:1", "b:1")
	res.check(t, exitFailure, "error: join a:1: refused; join b:1: refused\n")
	if res.stdout != "" {
		t.Errorf("failed join stdout = %q; want nothing", res.stdout)
	}
}

func TestJoinPartial(t *testing.T) {
	f := &rpctest.Agent{JoinN: 1, JoinErr: errors.New("join b:1: refused")}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "join", "--rpc-addr", addr, "a:1", "b:1")
	res.check(t, exitFailure, "error: join b:1: refused\n")
	if want := "Successfully joined cluster by contacting 1 nodes.\n"; res.stdout != want {
		t.Errorf("partial join stdout = %q; want %q", res.stdout, want)
	}
}

func TestLeave(t *testing.T) {
	f := &rpctest.Agent{}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "leave", "--rpc-addr", addr)
	res.check(t, exitOK, "")
	if want := "Graceful leave complete\n"; res.stdout != want {
		t.Errorf("leave stdout = %q; want %q", res.stdout, want)
	}
	if leaves := f.Leaves(); leaves != 1 {
		t.Errorf("agent got %d leaves; want 1", leaves)
	}
}

func TestLeaveFailure(t *testing.T) {
	addr, _ := serve(t, &rpctest.Agent{LeaveErr: errors.New("leave: timed out broadcasting the intent")}, "")
	res := runCLI(t, "leave", "--rpc-addr", addr)
	res.check(t, exitFailure, "error: leave: timed out broadcasting the intent\n")
}

func TestForceLeave(t *testing.T) {
	f := &rpctest.Agent{}
	addr, _ := serve(t, f, "")
	runCLI(t, "force-leave", "--rpc-addr", addr, "web-3").check(t, exitOK, "")
	runCLI(t, "force-leave", "--prune", "--rpc-addr", addr, "web-4").check(t, exitOK, "")
	got := f.ForceLeaves()
	want := []rpctest.ForceLeaveCall{{Node: "web-3"}, {Node: "web-4", Prune: true}}
	if !slices.Equal(got, want) {
		t.Errorf("agent got force-leaves %+v; want %+v", got, want)
	}
}

func TestForceLeaveUnknownNode(t *testing.T) {
	// The agent's own message reaches the user unchanged.
	addr, _ := serve(t, &rpctest.Agent{ForceLeaveErr: errors.New("force-leave ghost: no such member")}, "")
	res := runCLI(t, "force-leave", "--rpc-addr", addr, "ghost")
	res.check(t, exitFailure, "error: force-leave ghost: no such member\n")
}

func TestTags(t *testing.T) {
	f := &rpctest.Agent{LocalTags: map[string]string{"zone": "a", "old": "x"}}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "tags", "--rpc-addr", addr, "--set", "role=web", "--set", "zone=b", "--delete", "old")
	res.check(t, exitOK, "")
	if want := "Successfully updated agent tags\n"; res.stdout != want {
		t.Errorf("tags stdout = %q; want %q", res.stdout, want)
	}
	if tags := f.Tags(); !maps.Equal(tags, map[string]string{"role": "web", "zone": "b"}) {
		t.Errorf("agent tags = %v; want role=web zone=b", tags)
	}
}

func TestTagsFailure(t *testing.T) {
	addr, _ := serve(t, &rpctest.Agent{TagsErr: errors.New("set tags: encoded tags exceed 512 bytes")}, "")
	res := runCLI(t, "tags", "--rpc-addr", addr, "--set", "big=x")
	res.check(t, exitFailure, "error: set tags: encoded tags exceed 512 bytes\n")
}

// TestClientUsageErrors: bad command lines exit 2 before any connection.
func TestClientUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"join"}, "error: agent join needs at least 1 argument (ADDR)\n"},
		{[]string{"force-leave"}, "error: agent force-leave takes exactly 1 argument (NODE), got 0\n"},
		{[]string{"force-leave", "a", "b"}, "error: agent force-leave takes exactly 1 argument (NODE), got 2\n"},
		{[]string{"leave", "now"}, `error: agent leave takes no arguments, got "now"` + "\n"},
		{[]string{"tags"}, "error: agent tags needs --set or --delete\n"},
		{[]string{"tags", "--set", "role"}, `error: invalid argument "role" for "--set" flag: want KEY=VALUE, got "role"` + "\n"},
		{[]string{"tags", "--delete"}, "error: flag needs an argument: --delete\n"},
		{[]string{"info", "--format", "xml"}, `error: invalid argument "xml" for "--format" flag: want text or json, got "xml"` + "\n"},
		{[]string{"monitor", "--log-level", "loud"}, `error: invalid --log-level "loud" (want trace, debug, info, warn or err)` + "\n"},
		{[]string{"memebers"}, `error: unknown command "memebers" (did you mean "members"?)` + "\n"},
		{[]string{"frobnicate"}, `error: unknown command "frobnicate"; run 'agent --help' for the list` + "\n"},
		{[]string{"--bogus"}, "error: unknown flag: --bogus\n"},
	}
	for _, tt := range tests {
		args := tt.args
		if !slices.Contains([]string{"memebers", "frobnicate", "--bogus"}, args[0]) {
			args = append([]string{args[0], "--rpc-addr", closedPort(t)}, args[1:]...)
		}
		res := runCLI(t, args...)
		res.check(t, exitUsage, tt.wantStderr)
	}
}
