package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestQueryText(t *testing.T) {
	f := &rpctest.Agent{QueryAnswers: []rpc.QueryAnswer{{Ack: true, From: "a"}, {From: "a", Payload: []byte("up 3d")}, {Ack: true, From: "b"}}}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "query", "--rpc-addr", addr, "uptime")
	res.check(t, exitOK, "")
	want := "Query 'uptime' dispatched\nAck from 'a'\nResponse from 'a': up 3d\nAck from 'b'\nTotal Acks: 2\nTotal Responses: 1\n"
	if res.stdout != want {
		t.Errorf("stdout = %q; want %q", res.stdout, want)
	}
}

func TestQueryJSON(t *testing.T) {
	f := &rpctest.Agent{QueryAnswers: []rpc.QueryAnswer{{Ack: true, From: "b"}, {Ack: true, From: "a"}, {From: "a", Payload: []byte("x")}}}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "query", "--rpc-addr", addr, "--format", "json", "--node", "a", "--tag", "role=^web$", "--timeout", "2s", "v")
	res.check(t, exitOK, "")
	var got struct {
		Acks      []string
		Responses map[string]string
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("stdout %q: %v", res.stdout, err)
	}
	if strings.Join(got.Acks, ",") != "a,b" || got.Responses["a"] != "x" {
		t.Errorf("json %+v; want acks a,b and a's response", got)
	}
}

func TestQueryErrors(t *testing.T) {
	f := &rpctest.Agent{QueryErr: rpc.ErrInvalidFilter}
	addr, _ := serve(t, f, "")
	if res := runCLI(t, "query", "--rpc-addr", addr, "x"); res.code != exitFailure || !strings.Contains(res.stderr, "error: ") {
		t.Errorf("refused query: exit %d, stderr %q; want 1 and an error", res.code, res.stderr)
	}
	for _, args := range [][]string{{"query"}, {"query", "a", "b", "c"}, {"query", "--relay-factor", "9", "x"}, {"query", "--tag", "novalue", "x"}} {
		if res := runCLI(t, append(args, "--rpc-addr", addr)...); res.code != exitUsage {
			t.Errorf("%q: exit %d; want %d (usage)", args, res.code, exitUsage)
		}
	}
}

func TestReachability(t *testing.T) {
	alive := func(name string) events.Member {
		return events.Member{Name: name, Addr: net.ParseIP("10.0.0.1"), Port: 7946, Status: events.StatusAlive}
	}
	f := &rpctest.Agent{MembersList: []events.Member{alive("a"), alive("b")},
		QueryAnswers: []rpc.QueryAnswer{{Ack: true, From: "a"}, {Ack: true, From: "b"}}}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "reachability", "--rpc-addr", addr, "--verbose")
	res.check(t, exitOK, "")
	for _, want := range []string{"Ack from 'a'", "Ack from 'b'", "live members: 2, acks: 2", "Successfully contacted all live nodes"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout %q lacks %q", res.stdout, want)
		}
	}

	f.Update(func(a *rpctest.Agent) { a.QueryAnswers = a.QueryAnswers[:1] })
	res = runCLI(t, "reachability", "--rpc-addr", addr)
	res.check(t, exitFailure, "error: no ack from 1 live member(s): [b]\n")
}
