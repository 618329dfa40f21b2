package main

import (
	"testing"
)

func TestAgentNotRunning(t *testing.T) {
	addr := closedPort(t)
	want := "error: connecting to agent at " + addr + ": connection refused\n"
	for _, cmd := range [][]string{
		{"members"}, {"info"}, {"leave"}, {"join", "10.0.0.1"}, {"force-leave", "x"},
		{"tags", "--set", "a=b"}, {"monitor"},
	} {
		res := runCLI(t, append(cmd, "--rpc-addr", addr)...)
		res.check(t, exitFailure, want)
		if res.stdout != "" {
			t.Errorf("%v stdout = %q; want nothing", cmd, res.stdout)
		}
	}
}

func TestRPCAddrFromEnv(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "")
	res := runCLIEnv(t, map[string]string{envRPCAddr: addr}, "members", "--name", "db-1", "--format", "json")
	res.check(t, exitOK, "")
	if got := memberNames(t, res.stdout); got != "db-1" {
		t.Errorf("members via $%s = %q; want db-1", envRPCAddr, got)
	}
	// The flag wins over the environment.
	closed := closedPort(t)
	res = runCLIEnv(t, map[string]string{envRPCAddr: addr}, "members", "--rpc-addr", closed)
	res.check(t, exitFailure, "error: connecting to agent at "+closed+": connection refused\n")
}

func TestRPCAuth(t *testing.T) {
	addr, _ := serve(t, clusterAgent(), "s3cret")

	res := runCLI(t, "members", "--rpc-addr", addr, "--rpc-auth", "wrong")
	res.check(t, exitFailure, "error: connecting to agent at "+addr+": the agent rejected the RPC auth key (--rpc-auth or $AGENT_RPC_AUTH)\n")

	res = runCLI(t, "members", "--rpc-addr", addr)
	res.check(t, exitFailure, "error: members: the agent requires an RPC auth key; pass --rpc-auth or set $AGENT_RPC_AUTH\n")

	runCLI(t, "members", "--rpc-addr", addr, "--rpc-auth", "s3cret").check(t, exitOK, "")
	runCLIEnv(t, map[string]string{envRPCAuth: "s3cret"}, "members", "--rpc-addr", addr).check(t, exitOK, "")
	// An explicit flag wins over the environment, even an empty one.
	runCLIEnv(t, map[string]string{envRPCAuth: "s3cret"}, "members", "--rpc-addr", addr, "--rpc-auth", "wrong").check(t, exitFailure,
		"error: connecting to agent at "+addr+": the agent rejected the RPC auth key (--rpc-auth or $AGENT_RPC_AUTH)\n")
}
