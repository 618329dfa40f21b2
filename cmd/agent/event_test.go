package main

import (
	"errors"
	"testing"

	"github.com/agentd/agent/rpc/rpctest"
)

func TestEvent(t *testing.T) {
	tests := []struct {
		args         []string
		wantOut      string
		name, pay    string
		wantCoalesce bool
	}{
		{[]string{"deploy", "v42"}, "Event 'deploy' dispatched! Coalescing enabled: true\n", "deploy", "v42", true},
		{[]string{"--coalesce=false", "restart"}, "Event 'restart' dispatched! Coalescing enabled: false\n", "restart", "", false},
	}
	for _, tt := range tests {
		f := &rpctest.Agent{}
		addr, _ := serve(t, f, "")
		res := runCLI(t, append([]string{"event", "--rpc-addr", addr}, tt.args...)...)
		res.check(t, exitOK, "")
		if res.stdout != tt.wantOut {
			t.Errorf("event %v stdout = %q; want %q", tt.args, res.stdout, tt.wantOut)
		}
		got := f.UserEvents()
		if len(got) != 1 || got[0].Name != tt.name || string(got[0].Payload) != tt.pay || got[0].Coalesce != tt.wantCoalesce {
			t.Errorf("event %v: agent got %+v; want %s %q coalesce=%t", tt.args, got, tt.name, tt.pay, tt.wantCoalesce)
		}
	}
}

func TestEventErrors(t *testing.T) {
	f := &rpctest.Agent{UserEventErr: errors.New(`user event too large: user event "deploy": name and payload are 600 bytes, over the limit of 512 (user_event_size_limit)`)}
	addr, _ := serve(t, f, "")
	res := runCLI(t, "event", "--rpc-addr", addr, "deploy", "x")
	res.check(t, exitFailure, `error: user event too large: user event "deploy": name and payload are 600 bytes, over the limit of 512 (user_event_size_limit)`+"\n")

	for _, args := range [][]string{{"event"}, {"event", "a", "b", "c"}, {"event", ""}} {
		res := runCLI(t, append(args, "--rpc-addr", addr)...)
		if res.code != exitUsage {
			t.Errorf("%q: exit %d; want %d (usage)", args, res.code, exitUsage)
		}
	}
}
