// These tests drive our server with Serf's own client.

package rpc_test

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/serf/client"
)

// serfClient connects Serf's client to the harness.
func serfClient(t *testing.T, h *harness, key string) *client.RPCClient {
	t.Helper()
	c, err := client.ClientFromConfig(&client.Config{Addr: h.addr, AuthKey: key, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("ClientFromConfig(key %q) = %v; want nil", key, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within runs f, failing the test if it has not returned after 10s: Serf's
// client waits for ever for an answer that does not come.
func within[T any](t *testing.T, what string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s", what)
		panic("unreachable")
	}
}

func wantSerfErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s = %v; want nil", what, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s = %v; want an error containing %q", what, err, want)
	}
}

func TestSerfClientMembers(t *testing.T) {
	h := startServer(t, nil)
	h.fake.SetMembers(
		rpctest.Member("node-a", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web"}),
		rpctest.Member("node-b", "fd00::2", events.StatusFailed, nil),
		rpctest.Member("node-c", "10.0.0.3", events.StatusLeft, map[string]string{}),
	)
	c := serfClient(t, h, "")
	got, err := within(t, "Members()", c.Members)
	if err != nil {
		t.Fatalf("Members() = %v; want nil", err)
	}
	want := []client.Member{
		{Name: "node-a", Addr: net.IP{10, 0, 0, 1}, Port: 7946, Tags: map[string]string{"role": "web"}, Status: "alive",
			ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4},
		{Name: "node-b", Addr: net.ParseIP("fd00::2"), Port: 7946, Status: "failed",
			ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4},
		{Name: "node-c", Addr: net.IP{10, 0, 0, 3}, Port: 7946, Tags: map[string]string{}, Status: "left",
			ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Members() =\n%+v\nwant\n%+v", got, want)
	}
	// IPv4 travels as 4 bytes, as from a Serf agent.
	if len(got) > 0 && len(got[0].Addr) != 4 {
		t.Errorf("Members()[0].Addr has %d bytes; want 4", len(got[0].Addr))
	}
}

func TestSerfClientAuth(t *testing.T) {
	h := startServer(t, func(c *rpc.ServerConfig) { c.AuthKey = "s3cret" })
	t.Run("right key", func(t *testing.T) {
		c := serfClient(t, h, "s3cret")
		_, err := within(t, "Members()", c.Members)
		wantSerfErr(t, "Members()", err, "")
	})
	t.Run("wrong key", func(t *testing.T) {
		c, err := client.ClientFromConfig(&client.Config{Addr: h.addr, AuthKey: "nope", Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		wantSerfErr(t, "ClientFromConfig(wrong key)", err, "Invalid authentication token")
	})
	t.Run("no key", func(t *testing.T) {
		c := serfClient(t, h, "")
		calls := []struct {
			name string
			f    func() error
		}{
			{"Members", func() error { _, err := c.Members(); return err }},
			{"MembersFiltered", func() error { _, err := c.MembersFiltered(map[string]string{"a": "b"}, "", ""); return err }},
			{"Join", func() error { _, err := c.Join([]string{"x:1"}, false); return err }},
			{"Stats", func() error { _, err := c.Stats(); return err }},
			{"UpdateTags", func() error { return c.UpdateTags(map[string]string{"a": "b"}, nil) }},
		}
		// Every call is refused, and the connection stays in step: our
		// server reads each request's body before refusing it.
		for _, call := range calls {
			_, err := within(t, call.name, func() (struct{}, error) { return struct{}{}, call.f() })
			wantSerfErr(t, call.name+"()", err, "Authentication required")
		}
		if h.fake.Tags() != nil || len(h.fake.Joins()) != 0 {
			t.Errorf("refused commands reached the agent: tags %v, joins %v", h.fake.Tags(), h.fake.Joins())
		}
	})
}

func TestSerfClientMembersFiltered(t *testing.T) {
	h := startServer(t, nil)
	h.fake.SetMembers(
		rpctest.Member("node-1", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web", "dc": "east"}),
		rpctest.Member("node-2", "10.0.0.2", events.StatusAlive, map[string]string{"role": "webserver", "dc": "west"}),
		rpctest.Member("node-3", "10.0.0.3", events.StatusFailed, map[string]string{"role": "db"}),
		rpctest.Member("other", "10.0.0.4", events.StatusLeft, nil),
	)
	c := serfClient(t, h, "")
	tests := []struct {
		name   string
		tags   map[string]string
		status string
		node   string
		want   []string
	}{
		{name: "no filter", want: []string{"node-1", "node-2", "node-3", "other"}},
		{name: "tag is anchored", tags: map[string]string{"role": "web"}, want: []string{"node-1"}},
		{name: "tag regex", tags: map[string]string{"role": "web.*"}, want: []string{"node-1", "node-2"}},
		{name: "alternation is anchored", tags: map[string]string{"role": "db|web"}, want: []string{"node-1", "node-3"}},
		{name: "missing tag matches empty", tags: map[string]string{"dc": ""}, want: []string{"node-3", "other"}},
		{name: "two tags", tags: map[string]string{"role": "web.*", "dc": "west"}, want: []string{"node-2"}},
		{name: "status", status: "alive", want: []string{"node-1", "node-2"}},
		{name: "status alternation", status: "failed|left", want: []string{"node-3", "other"}},
		{name: "status is anchored", status: "ali", want: nil},
		{name: "name", node: "node-[13]", want: []string{"node-1", "node-3"}},
		{name: "name is anchored", node: "node", want: nil},
		{name: "all at once", tags: map[string]string{"role": "web"}, status: "alive", node: "node-.", want: []string{"node-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := within(t, "MembersFiltered()", func() ([]client.Member, error) {
				return c.MembersFiltered(tt.tags, tt.status, tt.node)
			})
			if err != nil {
				t.Fatalf("MembersFiltered(%v, %q, %q) = %v; want nil", tt.tags, tt.status, tt.node, err)
			}
			var names []string
			for _, m := range got {
				names = append(names, m.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("MembersFiltered(%v, %q, %q) = %v; want %v", tt.tags, tt.status, tt.node, names, tt.want)
			}
		})
	}
	t.Run("invalid regex gets an error reply", func(t *testing.T) {
		for _, bad := range []struct {
			tags         map[string]string
			status, name string
		}{
			{tags: map[string]string{"role": "web("}},
			{status: "[alive"},
			{name: "*node"},
		} {
			_, err := within(t, "MembersFiltered()", func() ([]client.Member, error) {
				return c.MembersFiltered(bad.tags, bad.status, bad.name)
			})
			wantSerfErr(t, fmt.Sprintf("MembersFiltered(%v, %q, %q)", bad.tags, bad.status, bad.name), err, "Failed to compile regex")
		}
		// The connection is still usable.
		if _, err := within(t, "Members()", c.Members); err != nil {
			t.Errorf("Members() after invalid regex = %v; want nil", err)
		}
	})
}

func TestSerfClientJoin(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	h.fake.Update(func(a *rpctest.Agent) { a.JoinN = 2 })
	n, err := within(t, "Join()", func() (int, error) { return c.Join([]string{"10.0.0.1:7946", "10.0.0.2:7946"}, true) })
	if n != 2 || err != nil {
		t.Errorf("Join() = (%d, %v); want (2, nil)", n, err)
	}
	h.fake.Update(func(a *rpctest.Agent) { a.JoinN, a.JoinErr = 1, fmt.Errorf("join 10.0.0.9:7946: %w", errFake) })
	n, err = within(t, "Join()", func() (int, error) { return c.Join([]string{"10.0.0.9:7946"}, false) })
	if n != 1 {
		t.Errorf("Join() count = %d; want 1", n)
	}
	wantSerfErr(t, "Join()", err, "join 10.0.0.9:7946: fake failure")
	want := []rpctest.JoinCall{{Addrs: []string{"10.0.0.1:7946", "10.0.0.2:7946"}, Replay: true}, {Addrs: []string{"10.0.0.9:7946"}}}
	if got := h.fake.Joins(); !reflect.DeepEqual(got, want) {
		t.Errorf("agent saw joins %v; want %v", got, want)
	}
}

func TestSerfClientForceLeave(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	if _, err := within(t, "ForceLeave()", func() (int, error) { return 0, c.ForceLeave("node-b") }); err != nil {
		t.Errorf("ForceLeave() = %v; want nil", err)
	}
	if _, err := within(t, "ForceLeavePrune()", func() (int, error) { return 0, c.ForceLeavePrune("node-c") }); err != nil {
		t.Errorf("ForceLeavePrune() = %v; want nil", err)
	}
	h.fake.Update(func(a *rpctest.Agent) { a.ForceLeaveErr = errFake })
	_, err := within(t, "ForceLeave()", func() (int, error) { return 0, c.ForceLeave("node-d") })
	wantSerfErr(t, "ForceLeave()", err, "fake failure")

	want := []rpctest.ForceLeaveCall{{Node: "node-b"}, {Node: "node-c", Prune: true}, {Node: "node-d"}}
	if got := h.fake.ForceLeaves(); !reflect.DeepEqual(got, want) {
		t.Errorf("agent saw force-leaves %v; want %v", got, want)
	}
}

func TestSerfClientTagsAndStats(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) { a.LocalTags = map[string]string{"role": "web", "old": "x"} })
	c := serfClient(t, h, "")
	if _, err := within(t, "UpdateTags()", func() (int, error) {
		return 0, c.UpdateTags(map[string]string{"dc": "east", "role": "db"}, []string{"old", "role"})
	}); err != nil {
		t.Fatalf("UpdateTags() = %v; want nil", err)
	}
	if got, want := h.fake.Tags(), map[string]string{"dc": "east", "role": "db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags after UpdateTags() = %v; want %v", got, want)
	}
	h.fake.Update(func(a *rpctest.Agent) {
		a.TagsErr = errFake
		a.StatsMap = map[string]map[string]string{"agent": {"name": "node-a"}, "serf": {"members": "3", "failed": "0"}}
	})
	_, err := within(t, "UpdateTags()", func() (int, error) { return 0, c.UpdateTags(map[string]string{"a": "b"}, nil) })
	wantSerfErr(t, "UpdateTags()", err, "fake failure")

	stats, err := within(t, "Stats()", c.Stats)
	if err != nil {
		t.Fatalf("Stats() = %v; want nil", err)
	}
	if want := (map[string]map[string]string{"agent": {"name": "node-a"}, "serf": {"members": "3", "failed": "0"}}); !reflect.DeepEqual(stats, want) {
		t.Errorf("Stats() = %v; want %v", stats, want)
	}
}
