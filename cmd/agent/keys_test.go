package main

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestKeygen(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		res := runCLI(t, "keygen")
		res.check(t, exitOK, "")
		key := strings.TrimSpace(res.stdout)
		raw, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(raw) != 32 {
			t.Fatalf("keygen printed %q: %d bytes, %v; want base64 of 32 bytes", res.stdout, len(raw), err)
		}
		if seen[key] {
			t.Fatalf("keygen printed the same key twice: %s", key)
		}
		seen[key] = true
	}
}

func TestKeys(t *testing.T) {
	const k1, k2 = "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=", "AAAAAAAAAAAAAAAAAAAAAA=="
	tests := []struct {
		name       string
		args       []string
		result     rpc.KeyResult
		err        error
		code       int
		wantOut    string
		wantStderr string
		wantCall   rpctest.KeyCall
	}{
		{"list", []string{"--list"}, rpc.KeyResult{Keys: map[string]int{k1: 3, k2: 1}, NumNodes: 3, NumResp: 3}, nil, exitOK,
			"Keys installed in the cluster (3 of 3 members answered):\n  " + k1 + "  [3/3]\n  " + k2 + "  [1/3]\n", "",
			rpctest.KeyCall{Op: "list-keys"}},
		{"install", []string{"--install", k2}, rpc.KeyResult{NumNodes: 3, NumResp: 3}, nil, exitOK,
			"Installed the key on 3 of 3 members\n", "", rpctest.KeyCall{Op: "install-key", Key: k2}},
		{"use", []string{"--use", k2}, rpc.KeyResult{NumNodes: 2, NumResp: 2}, nil, exitOK,
			"Made the key primary on 2 of 2 members\n", "", rpctest.KeyCall{Op: "use-key", Key: k2}},
		{"remove with a failure", []string{"--remove", k1},
			rpc.KeyResult{Messages: map[string]string{"web-2": "Removing the primary key is not allowed"}, NumNodes: 3, NumResp: 3, NumErr: 1},
			errors.New("remove-key: 1/3 nodes reported failure"), exitFailure,
			"", "web-2: Removing the primary key is not allowed\nerror: remove-key: 1/3 nodes reported failure\n",
			rpctest.KeyCall{Op: "remove-key", Key: k1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &rpctest.Agent{KeyResult: tt.result, KeyErr: tt.err}
			addr, _ := serve(t, f, "")
			res := runCLI(t, append([]string{"keys", "--rpc-addr", addr}, tt.args...)...)
			res.check(t, tt.code, tt.wantStderr)
			if res.stdout != tt.wantOut {
				t.Errorf("stdout = %q; want %q", res.stdout, tt.wantOut)
			}
			if calls := f.KeyCalls(); len(calls) != 1 || calls[0] != tt.wantCall {
				t.Errorf("agent saw %v; want %v", calls, tt.wantCall)
			}
		})
	}
	for _, args := range [][]string{{"keys"}, {"keys", "--list", "--install", k1}, {"keys", "extra"}} {
		res := runCLI(t, args...)
		if res.code != exitUsage {
			t.Errorf("%q: exit %d; want %d (usage)", args, res.code, exitUsage)
		}
	}
}
