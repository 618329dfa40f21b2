package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestClientMembers(t *testing.T) {
	h := startServer(t, nil)
	in := []events.Member{
		rpctest.Member("node-a", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web"}),
		rpctest.Member("node-b", "fd00::2", events.StatusLeaving, nil),
		rpctest.Member("node-c", "10.0.0.3", events.StatusFailed, map[string]string{}),
	}
	h.fake.SetMembers(in...)
	c := dial(t, h.addr, "")
	got, err := c.Members(testCtx(t))
	if err != nil {
		t.Fatalf("Members() = %v; want nil", err)
	}
	want := slices.Clone(in)
	want[0].Addr = net.IP{10, 0, 0, 1} // IPv4 comes back in 4-byte form
	want[2].Addr = net.IP{10, 0, 0, 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Members() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestClientAuth(t *testing.T) {
	tests := []struct {
		name      string
		serverKey string
		clientKey string
		dialErr   error // sentinel Dial's error must match
		callErr   error // sentinel Members' error must match
	}{
		{name: "no auth"},
		{name: "right key", serverKey: "k", clientKey: "k"},
		{name: "wrong key", serverKey: "k", clientKey: "x", dialErr: rpc.ErrInvalidAuthToken},
		{name: "missing key", serverKey: "k", callErr: rpc.ErrAuthRequired},
		{name: "key for a server without auth", clientKey: "x", dialErr: rpc.ErrInvalidAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startServer(t, func(c *rpc.ServerConfig) { c.AuthKey = tt.serverKey })
			c, err := rpc.Dial(testCtx(t), h.addr, tt.clientKey)
			if !errors.Is(err, tt.dialErr) || (tt.dialErr == nil && err != nil) {
				t.Fatalf("Dial() = %v; want %v", err, tt.dialErr)
			}
			if err != nil {
				var re *rpc.RemoteError
				if !errors.As(err, &re) || re.Message != tt.dialErr.Error() || re.Command != "auth" {
					t.Errorf("Dial() = %#v; want a *RemoteError for auth with message %q", err, tt.dialErr)
				}
				return
			}
			defer c.Close()
			_, err = c.Members(testCtx(t))
			if !errors.Is(err, tt.callErr) || (tt.callErr == nil && err != nil) {
				t.Errorf("Members() = %v; want %v", err, tt.callErr)
			}
			// The connection stays usable after a refusal.
			if _, err := c.MembersFiltered(testCtx(t), rpc.MemberFilter{Name: "x"}); !errors.Is(err, tt.callErr) || (tt.callErr == nil && err != nil) {
				t.Errorf("MembersFiltered() = %v; want %v", err, tt.callErr)
			}
		})
	}
}

func TestClientMembersFiltered(t *testing.T) {
	h := startServer(t, nil)
	h.fake.SetMembers(
		rpctest.Member("web-1", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web"}),
		rpctest.Member("web-2", "10.0.0.2", events.StatusFailed, map[string]string{"role": "webserver"}),
		rpctest.Member("db-1", "10.0.0.3", events.StatusAlive, map[string]string{"role": "db"}),
	)
	c := dial(t, h.addr, "")
	tests := []struct {
		f    rpc.MemberFilter
		want []string
	}{
		{rpc.MemberFilter{}, []string{"web-1", "web-2", "db-1"}},
		{rpc.MemberFilter{Tags: map[string]string{"role": "web"}}, []string{"web-1"}},
		{rpc.MemberFilter{Status: "alive"}, []string{"web-1", "db-1"}},
		{rpc.MemberFilter{Name: "web-.*", Status: "failed"}, []string{"web-2"}},
		{rpc.MemberFilter{Name: "web"}, nil},
	}
	for _, tt := range tests {
		got, err := c.MembersFiltered(testCtx(t), tt.f)
		if err != nil {
			t.Fatalf("MembersFiltered(%+v) = %v; want nil", tt.f, err)
		}
		var names []string
		for _, m := range got {
			names = append(names, m.Name)
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("MembersFiltered(%+v) = %v; want %v", tt.f, names, tt.want)
		}
	}
	_, err := c.MembersFiltered(testCtx(t), rpc.MemberFilter{Tags: map[string]string{"role": "(web"}})
	if !errors.Is(err, rpc.ErrInvalidRegex) {
		t.Errorf("MembersFiltered(invalid regex) = %v; want %v", err, rpc.ErrInvalidRegex)
	}
	if _, err := c.Members(testCtx(t)); err != nil {
		t.Errorf("Members() after invalid regex = %v; want nil", err)
	}
}

// TestClientAgentErrors checks that the agent's own errors come through
// verbatim, as *RemoteError matching no protocol sentinel.
func TestClientAgentErrors(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) {
		a.JoinN, a.JoinErr = 1, fmt.Errorf("join 10.0.0.9:7946: %w", errFake)
		a.ForceLeaveErr = fmt.Errorf("force-leave x: %w", errFake)
		a.TagsErr = fmt.Errorf("set tags: %w", errFake)
	})
	c := dial(t, h.addr, "")
	ctx := testCtx(t)

	n, joinErr := c.Join(ctx, []string{"10.0.0.9:7946"}, true)
	if n != 1 {
		t.Errorf("Join() count = %d; want 1", n)
	}
	tests := []struct {
		cmd  string
		err  error
		want string
	}{
		{"join", joinErr, "join 10.0.0.9:7946: fake failure"},
		{"force-leave", c.ForceLeave(ctx, "x", true), "force-leave x: fake failure"},
		{"tags", c.UpdateTags(ctx, map[string]string{"a": "b"}, []string{"c"}), "set tags: fake failure"},
	}
	for _, tt := range tests {
		var re *rpc.RemoteError
		if !errors.As(tt.err, &re) || re.Command != tt.cmd || re.Message != tt.want || re.Unwrap() != nil {
			t.Errorf("%s error = %#v; want *RemoteError{%s, %q} with no sentinel", tt.cmd, tt.err, tt.cmd, tt.want)
		}
	}
	if got, want := h.fake.Joins(), []rpctest.JoinCall{{Addrs: []string{"10.0.0.9:7946"}, Replay: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("agent saw joins %v; want %v", got, want)
	}
	if got, want := h.fake.ForceLeaves(), []rpctest.ForceLeaveCall{{Node: "x", Prune: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("agent saw force-leaves %v; want %v", got, want)
	}
}

func TestClientTagsAndStats(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) {
		a.LocalTags = map[string]string{"role": "web", "old": "1"}
		a.StatsMap = map[string]map[string]string{"agent": {"name": "a"}, "serf": {"members": "2"}}
	})
	c := dial(t, h.addr, "")
	if err := c.UpdateTags(testCtx(t), map[string]string{"dc": "x"}, []string{"old"}); err != nil {
		t.Fatalf("UpdateTags() = %v; want nil", err)
	}
	if got, want := h.fake.Tags(), map[string]string{"role": "web", "dc": "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags = %v; want %v", got, want)
	}
	got, err := c.Stats(testCtx(t))
	if want := h.fake.Stats(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = (%v, %v); want (%v, nil)", got, err, want)
	}
}

// recvEvent receives from ch or fails after 10s.
func recvEvent(t *testing.T, ch <-chan events.Event) events.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("stream channel closed; want an event")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return nil
}

func TestClientStream(t *testing.T) {
	h := startServer(t, nil)
	c := dial(t, h.addr, "")
	ctx := testCtx(t)
	joins, stopJoins, err := c.Stream(ctx, "member-join")
	if err != nil {
		t.Fatalf("Stream(member-join) = %v; want nil", err)
	}
	all, stopAll, err := c.Stream(ctx, "*")
	if err != nil {
		t.Fatalf("Stream(*) = %v; want nil", err)
	}
	waitFor(t, "two subscriptions", func() bool { return h.fake.EventSubscribers() == 2 })

	a := rpctest.Member("node-a", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web"})
	h.fake.Publish(events.MemberEvent{Type: events.MemberUpdate, Members: []events.Member{a}})
	h.fake.Publish(memberJoin(a))

	wantA := a
	wantA.Addr = net.IP{10, 0, 0, 1}
	if got, want := recvEvent(t, joins), events.Event(memberJoin(wantA)); !reflect.DeepEqual(got, want) {
		t.Errorf("member-join stream got %+v; want %+v", got, want)
	}
	for _, typ := range []events.Type{events.MemberUpdate, events.MemberJoin} {
		want := events.Event(events.MemberEvent{Type: typ, Members: []events.Member{wantA}})
		if got := recvEvent(t, all); !reflect.DeepEqual(got, want) {
			t.Errorf("* stream got %+v; want %+v", got, want)
		}
	}

	if err := stopJoins(ctx); err != nil {
		t.Errorf("stop() = %v; want nil", err)
	}
	if _, ok := <-joins; ok {
		t.Error("stream channel open after stop(); want closed")
	}
	if err := stopJoins(ctx); err != nil {
		t.Errorf("second stop() = %v; want nil", err)
	}
	waitFor(t, "one subscription", func() bool { return h.fake.EventSubscribers() == 1 })
	// The other stream still works.
	h.fake.Publish(events.MemberEvent{Type: events.MemberReap, Members: []events.Member{a}})
	if got := recvEvent(t, all); got.EventType() != events.MemberReap {
		t.Errorf("* stream got %v; want a member-reap", got)
	}
	if err := stopAll(ctx); err != nil {
		t.Errorf("stop() = %v; want nil", err)
	}

	for _, f := range []string{"member-joins", "user,nope", "member-join;member-leave"} {
		if _, _, err := c.Stream(ctx, f); !errors.Is(err, rpc.ErrInvalidFilter) {
			t.Errorf("Stream(%q) = %v; want %v", f, err, rpc.ErrInvalidFilter)
		}
	}
}

func TestClientMonitor(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Log(rpc.LevelTrace, "trace 1")
	h.fake.Log(slog.LevelWarn, "warn 1")
	c := dial(t, h.addr, "")
	ctx := testCtx(t)
	lines, stop, err := c.Monitor(ctx, "warn")
	if err != nil {
		t.Fatalf("Monitor(warn) = %v; want nil", err)
	}
	waitFor(t, "the monitor to subscribe", func() bool { return h.fake.LogSubscribers() == 1 })
	h.fake.Log(slog.LevelInfo, "info 2")
	h.fake.Log(slog.LevelError, "error 2")
	for _, want := range []string{"warn 1", "error 2"} {
		select {
		case got := <-lines:
			if got != want {
				t.Errorf("monitor line = %q; want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no line %q within 10s", want)
		}
	}
	if _, _, err := c.Monitor(ctx, "debug"); !errors.Is(err, rpc.ErrMonitorExists) {
		t.Errorf("second Monitor() = %v; want %v", err, rpc.ErrMonitorExists)
	}
	if _, _, err := c.Monitor(ctx, "loud"); !errors.Is(err, rpc.ErrUnknownLogLevel) {
		t.Errorf("Monitor(loud) = %v; want %v", err, rpc.ErrUnknownLogLevel)
	}
	if err := stop(ctx); err != nil {
		t.Errorf("stop() = %v; want nil", err)
	}
	waitFor(t, "the monitor to unsubscribe", func() bool { return h.fake.LogSubscribers() == 0 })
	if _, ok := <-lines; ok {
		t.Error("monitor channel open after stop(); want closed")
	}
	// TRACE is the lowest level.
	lines, _, err = c.Monitor(ctx, "TRACE")
	if err != nil {
		t.Fatalf("Monitor(TRACE) = %v; want nil", err)
	}
	if got := <-lines; got != "trace 1" {
		t.Errorf("first TRACE line = %q; want %q", got, "trace 1")
	}
}

func TestClientCallCanceled(t *testing.T) {
	h := startServer(t, nil)
	block := make(chan struct{})
	h.fake.Update(func(a *rpctest.Agent) { a.JoinBlock, a.JoinN = block, 3 })
	c := dial(t, h.addr, "")
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Join(ctx, []string{"x:1"}, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join() with expiring ctx = %v; want %v", err, context.DeadlineExceeded)
	}
	// The late answer is read and discarded; the connection stays in step.
	close(block)
	if _, err := c.Members(testCtx(t)); err != nil {
		t.Errorf("Members() after an abandoned Join() = %v; want nil", err)
	}
}

func TestShutdownCancelsAgentCalls(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) { a.JoinBlock = make(chan struct{}) }) // never closed
	c := dial(t, h.addr, "")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Join(testCtx(t), []string{"x:1"}, false)
		errc <- err
	}()
	waitFor(t, "the join to reach the agent", func() bool { return h.fake.JoinsBegun() == 1 })
	h.srv.Shutdown() // must not wait for the join
	if err := <-errc; err == nil {
		t.Error("Join() during Shutdown = nil; want an error")
	}
}

func TestClientClose(t *testing.T) {
	h := startServer(t, nil)
	c := dial(t, h.addr, "")
	ch, stop, err := c.Stream(testCtx(t), "")
	if err != nil {
		t.Fatalf("Stream() = %v; want nil", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
	if _, ok := <-ch; ok {
		t.Error("stream channel open after Close(); want closed")
	}
	if err := stop(testCtx(t)); err != nil {
		t.Errorf("stop() after Close() = %v; want nil", err)
	}
	if _, err := c.Members(testCtx(t)); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("Members() after Close() = %v; want %v", err, rpc.ErrClientClosed)
	}
	waitFor(t, "the server to drop the connection", func() bool { return h.srv.Stats().Conns == 0 })
}
