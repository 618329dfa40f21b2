// Serf's own client against our server: streams, monitors, leave and the
// commands not implemented yet.

package rpc_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/logutils"
	"github.com/hashicorp/serf/client"
	"github.com/hashicorp/serf/coordinate"
)

func TestSerfClientStream(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	ch := make(chan map[string]any, 16)
	handle, err := within(t, "Stream()", func() (client.StreamHandle, error) { return c.Stream("member-join,member-leave", ch) })
	if err != nil {
		t.Fatalf("Stream() = %v; want nil", err)
	}
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })

	a := rpctest.Member("node-a", "10.0.0.1", events.StatusAlive, map[string]string{"role": "web"})
	h.fake.Publish(memberJoin(a))
	h.fake.Publish(events.MemberEvent{Type: events.MemberFailed, Members: []events.Member{a}}) // filtered out
	a.Status = events.StatusLeft
	h.fake.Publish(events.MemberEvent{Type: events.MemberLeave, Members: []events.Member{a}})

	for _, want := range []struct{ event, status string }{{"member-join", "alive"}, {"member-leave", "left"}} {
		select {
		case rec := <-ch:
			if rec["Event"] != want.event {
				t.Errorf("record Event = %v; want %q", rec["Event"], want.event)
			}
			ms, _ := rec["Members"].([]any)
			if len(ms) != 1 {
				t.Fatalf("record Members = %#v; want 1 member", rec["Members"])
			}
			m, _ := ms[0].(map[any]any)
			if m["Name"] != "node-a" || m["Status"] != want.status || !bytes.Equal(asBytes(m["Addr"]), []byte{10, 0, 0, 1}) {
				t.Errorf("record member = %#v; want node-a, %s, 10.0.0.1 as 4 bytes", m, want.status)
			}
			if tags, _ := m["Tags"].(map[any]any); tags["role"] != "web" {
				t.Errorf("record member Tags = %#v; want role=web", m["Tags"])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s record within 10s", want.event)
		}
	}

	if _, err := within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) }); err != nil {
		t.Errorf("Stop() = %v; want nil", err)
	}
	waitFor(t, "the stream to unsubscribe", func() bool { return h.fake.EventSubscribers() == 0 })

	t.Run("invalid filter", func(t *testing.T) {
		for _, f := range []string{"member-joined", "member-join,bogus", "users"} {
			_, err := within(t, "Stream()", func() (client.StreamHandle, error) { return c.Stream(f, make(chan map[string]any)) })
			wantSerfErr(t, fmt.Sprintf("Stream(%q)", f), err, "Invalid event filter")
		}
		for _, f := range []string{"*", "", "user", "user:deploy,query:ping,member-reap", "query"} {
			handle, err := within(t, "Stream()", func() (client.StreamHandle, error) { return c.Stream(f, make(chan map[string]any, 1)) })
			wantSerfErr(t, fmt.Sprintf("Stream(%q)", f), err, "")
			if err == nil {
				within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) })
			}
		}
	})
}

// asBytes returns v as bytes if it is a byte slice or a string.
func asBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}

func TestSerfClientMonitor(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Log(slog.LevelDebug, "[DEBUG] old debug")
	h.fake.Log(slog.LevelInfo, "[INFO] old info")
	h.fake.Log(slog.LevelError, "[ERR] old error")
	c := serfClient(t, h, "")

	ch := make(chan string, 16)
	handle, err := within(t, "Monitor()", func() (client.StreamHandle, error) { return c.Monitor(logutils.LogLevel("info"), ch) })
	if err != nil {
		t.Fatalf("Monitor(info) = %v; want nil", err)
	}
	waitFor(t, "the monitor to subscribe", func() bool { return h.fake.LogSubscribers() == 1 })
	h.fake.Log(slog.LevelDebug, "[DEBUG] new debug")
	h.fake.Log(slog.LevelWarn, "[WARN] new warning")
	for _, want := range []string{"[INFO] old info", "[ERR] old error", "[WARN] new warning"} {
		select {
		case got := <-ch:
			if got != want {
				t.Errorf("monitor line = %q; want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no monitor line %q within 10s", want)
		}
	}

	_, err = within(t, "Monitor()", func() (client.StreamHandle, error) { return c.Monitor("DEBUG", make(chan string, 1)) })
	wantSerfErr(t, "second Monitor()", err, "Monitor already exists")
	_, err = within(t, "Monitor()", func() (client.StreamHandle, error) { return c.Monitor("BOGUS", make(chan string, 1)) })
	wantSerfErr(t, "Monitor(BOGUS)", err, "Unknown log level: BOGUS")

	if _, err := within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) }); err != nil {
		t.Errorf("Stop() = %v; want nil", err)
	}
	waitFor(t, "the monitor to unsubscribe", func() bool { return h.fake.LogSubscribers() == 0 })
	// A new monitor may be opened once the old one is stopped.
	ch = make(chan string, 4)
	handle, err = within(t, "Monitor()", func() (client.StreamHandle, error) { return c.Monitor("ERR", ch) })
	wantSerfErr(t, "Monitor() after Stop()", err, "")
	// Serf's client closes the channel while its reader may be sending on
	// it, so take every record before stopping.
	select {
	case got := <-ch:
		if got != "[ERR] old error" {
			t.Errorf("monitor line = %q; want %q", got, "[ERR] old error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no replayed line within 10s")
	}
	within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) })
}

func TestSerfClientLeave(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	// What the daemon does on ExitRequested.
	go func() {
		<-h.srv.ExitRequested()
		h.srv.Shutdown()
	}()
	if _, err := within(t, "Leave()", func() (int, error) { return 0, c.Leave() }); err != nil {
		t.Errorf("Leave() = %v; want nil", err)
	}
	if n := h.fake.Leaves(); n != 1 {
		t.Errorf("agent saw %d leaves; want 1", n)
	}
	// Like the serf CLI: hang up after the leave. The server waits for
	// that (up to LeaveGrace) before requesting the exit; closing sooner
	// makes Serf's client report "client closed" now and then.
	select {
	case <-h.srv.ExitRequested():
		t.Fatal("ExitRequested() closed while the leaving client is still connected")
	default:
	}
	c.Close()
	select {
	case <-h.srv.ExitRequested():
	case <-time.After(500 * time.Millisecond): // well under LeaveGrace
		t.Fatal("ExitRequested() not closed promptly after the leaving client hung up")
	}
}

func TestSerfClientLeaveError(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) { a.LeaveErr = errFake })
	c := serfClient(t, h, "")
	_, err := within(t, "Leave()", func() (int, error) { return 0, c.Leave() })
	wantSerfErr(t, "Leave()", err, "fake failure")
}

func TestSerfClientGetCoordinate(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) {
		a.Coords = map[string]rpc.Coordinate{"node-a": {Vec: []float64{0.001, -0.002, 0, 0, 0, 0, 0, 0}, Error: 0.4, Adjustment: 0.0001, Height: 0.00002}}
	})
	c := serfClient(t, h, "")
	coord, err := within(t, "GetCoordinate()", func() (*coordinate.Coordinate, error) { return c.GetCoordinate("node-a") })
	if err != nil || coord == nil || coord.Vec[1] != -0.002 || coord.Error != 0.4 || coord.Height != 0.00002 {
		t.Fatalf("GetCoordinate(node-a) = %+v, %v; want the agent's coordinate", coord, err)
	}
	coord, err = within(t, "GetCoordinate()", func() (*coordinate.Coordinate, error) { return c.GetCoordinate("unknown") })
	if err != nil || coord != nil {
		t.Fatalf("GetCoordinate(unknown) = %+v, %v; want nil, nil", coord, err)
	}
	ours := dial(t, h.addr, "")
	if got, ok, err := ours.GetCoordinate(testCtx(t), "node-a"); err != nil || !ok || got.Adjustment != 0.0001 {
		t.Fatalf("our GetCoordinate = %+v, %t, %v", got, ok, err)
	}
}
