package rpc_test

import (
	"errors"
	"testing"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

const testKey = "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="

// TestSerfClientKeys drives the four keyring commands with Serf's client,
// with a result that succeeded and one where a member failed (the body
// must reach the client with the error).
func TestSerfClientKeys(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	h.fake.Update(func(a *rpctest.Agent) {
		a.KeyResult = rpc.KeyResult{Keys: map[string]int{testKey: 3}, NumNodes: 3, NumResp: 3}
	})
	keys, num, msgs, err := c.ListKeys()
	if err != nil || num != 3 || keys[testKey] != 3 || len(msgs) != 0 {
		t.Errorf("ListKeys() = %v, %d, %v, %v; want the key on 3 of 3 nodes", keys, num, msgs, err)
	}
	for name, call := range map[string]func(string) (map[string]string, error){
		"install-key": c.InstallKey, "use-key": c.UseKey, "remove-key": c.RemoveKey,
	} {
		if _, err := within(t, name, func() (map[string]string, error) { return call(testKey) }); err != nil {
			t.Errorf("%s = %v; want nil", name, err)
		}
	}

	h.fake.Update(func(a *rpctest.Agent) {
		a.KeyResult = rpc.KeyResult{Messages: map[string]string{"node-b": "key not installed"}, NumNodes: 3, NumResp: 3, NumErr: 1}
		a.KeyErr = errors.New("use-key: 1/3 nodes reported failure")
	})
	msgs, err = within(t, "UseKey()", func() (map[string]string, error) { return c.UseKey(testKey) })
	wantSerfErr(t, "UseKey()", err, "1/3 nodes reported failure")
	if msgs["node-b"] != "key not installed" {
		t.Errorf("UseKey() messages = %v; want node-b's reason", msgs)
	}
	// Our client gets the same.
	ours := dial(t, h.addr, "")
	res, err := ours.ModifyKeys(testCtx(t), "use-key", testKey)
	if err == nil || res.NumErr != 1 || res.Messages["node-b"] != "key not installed" {
		t.Errorf("ModifyKeys(use-key) = %+v, %v; want node-b's failure and an error", res, err)
	}
	calls := h.fake.KeyCalls()
	if len(calls) != 6 || calls[0] != (rpctest.KeyCall{Op: "list-keys"}) || calls[5] != (rpctest.KeyCall{Op: "use-key", Key: testKey}) {
		t.Errorf("agent saw key calls %v; want list-keys, the three changes, then use-key twice", calls)
	}
	if _, err := ours.ModifyKeys(testCtx(t), "rotate", testKey); err == nil {
		t.Error("ModifyKeys(rotate): no error for an unknown operation")
	}
}
