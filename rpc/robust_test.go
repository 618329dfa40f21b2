package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestHandshakeRules(t *testing.T) {
	h := startServer(t, nil)
	c := dialRaw(t, h.addr)
	steps := []struct {
		send    []any
		wantErr string
	}{
		// Before the handshake: refused, but the connection stays usable.
		{[]any{map[string]any{"Command": "members", "Seq": 1}}, "Handshake required"},
		{[]any{map[string]any{"Command": "join", "Seq": 2}, map[string]any{"Existing": []string{"a:1"}}}, "Handshake required"},
		{[]any{map[string]any{"Command": "handshake", "Seq": 3}, map[string]any{"Version": 2}}, "Unsupported IPC version"},
		{[]any{map[string]any{"Command": "handshake", "Seq": 4}, map[string]any{"Version": 0}}, "Unsupported IPC version"},
		// Unknown header fields are ignored.
		{[]any{map[string]any{"Command": "handshake", "Seq": 5, "Extra": []int{1}}, map[string]any{"Version": 1}}, ""},
		{[]any{map[string]any{"Command": "handshake", "Seq": 6}, map[string]any{"Version": 1}}, "Handshake already performed"},
		{[]any{map[string]any{"Command": "stop", "Seq": 7}, map[string]any{"Stop": 99}}, ""},
		{[]any{map[string]any{"Command": "event", "Seq": 8}, map[string]any{"Name": "deploy", "Extra": true}}, ""},
		{[]any{map[string]any{"Command": "respond", "Seq": 9}, map[string]any{"ID": 1}}, "No pending queries matching ID"},
		{[]any{map[string]any{"Command": "event", "Seq": 10}, map[string]any{"Name": "x"}}, ""},
	}
	for i, s := range steps {
		c.send(s.send...)
		seq, e := c.header()
		if want := uint64(i + 1); seq != want || e != s.wantErr {
			t.Errorf("step %d: response = (%d, %q); want (%d, %q)", i, seq, e, want, s.wantErr)
		}
	}
	if h.fake.JoinsBegun() != 0 {
		t.Error("a join refused for lack of handshake reached the agent")
	}
	// An unknown command ends the connection: its body cannot be framed.
	c.send(map[string]any{"Command": "frobnicate", "Seq": 11}, map[string]any{"X": 1})
	if seq, e := c.header(); seq != 11 || e != "Unsupported command" {
		t.Errorf("unknown command: response = (%d, %q); want (11, %q)", seq, e, "Unsupported command")
	}
	c.expectClosed()
}

func TestUnknownCommandBeforeAuth(t *testing.T) {
	h := startServer(t, func(c *rpc.ServerConfig) { c.AuthKey = "k" })
	c := dialRaw(t, h.addr)
	c.handshake()
	c.send(map[string]any{"Command": "frobnicate", "Seq": 2})
	if seq, e := c.header(); seq != 2 || e != "Authentication required" {
		t.Errorf("response = (%d, %q); want (2, %q)", seq, e, "Authentication required")
	}
	c.expectClosed()
}

// TestGarbageDisconnects sends input that is not a request and checks that
// the sender gets an error (when the header could be read) and is
// disconnected, while another client carries on.
func TestGarbageDisconnects(t *testing.T) {
	h := startServer(t, nil)
	h.fake.SetMembers(rpctest.Member("a", "10.0.0.1", events.StatusAlive, nil))
	good := dial(t, h.addr, "")

	str32 := []byte{0xdb, 0xff, 0xff, 0xff, 0xff} // a 4 GiB string, announced
	tests := []struct {
		name      string
		handshake bool
		raw       []byte // sent as is
		values    []any  // or encoded
		wantSeq   uint64
		wantErr   string // prefix of the error reply
	}{
		{name: "http", raw: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wantErr: "Malformed request"},
		{name: "invalid byte", raw: []byte{0xc1}, wantErr: "Malformed request"},
		// More than the server reads: closing with unread input would
		// reset the connection and could discard the reply.
		{name: "invalid byte then 48 KiB", raw: append([]byte{0xc1}, make([]byte, 48<<10)...), wantErr: "Malformed request"},
		{name: "huge string", raw: str32, wantErr: "Malformed request"},
		{name: "huge map", raw: []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, wantErr: "Malformed request"},
		{name: "header not a map", values: []any{[]int{1, 2, 3}}, wantErr: "Malformed request"},
		{name: "seq of wrong type", values: []any{map[string]any{"Command": "members", "Seq": "one"}}, wantErr: "Malformed request"},
		{
			name: "body of wrong type", handshake: true,
			values:  []any{map[string]any{"Command": "join", "Seq": 7}, "not a join"},
			wantSeq: 7, wantErr: "Malformed request",
		},
		{
			name: "body field of wrong type", handshake: true,
			values:  []any{map[string]any{"Command": "force-leave", "Seq": 8}, map[string]any{"Prune": "yes"}},
			wantSeq: 8, wantErr: "Malformed request",
		},
		{
			name: "huge body", handshake: true,
			raw:     append([]byte{0x82, 0xa7, 'C', 'o', 'm', 'm', 'a', 'n', 'd', 0xa4, 'j', 'o', 'i', 'n', 0xa3, 'S', 'e', 'q', 0x09}, str32...),
			wantSeq: 9, wantErr: "Malformed request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, h.addr)
			if tt.handshake {
				c.handshake()
			}
			if tt.raw != nil {
				if _, err := c.nc.Write(tt.raw); err != nil {
					t.Fatal(err)
				}
			}
			c.send(tt.values...)
			seq, e := c.header()
			if seq != tt.wantSeq || !strings.HasPrefix(e, tt.wantErr) {
				t.Errorf("response = (%d, %q); want (%d, %q...)", seq, e, tt.wantSeq, tt.wantErr)
			}
			c.expectClosed()
			if _, err := good.Members(testCtx(t)); err != nil {
				t.Errorf("other client's Members() = %v; want nil", err)
			}
		})
	}
	waitFor(t, "garbage connections to be gone", func() bool { return h.srv.Stats().Conns == 1 })
}

// TestSlowStreamReader opens a stream from a client that never reads and
// checks that the agent's publishing never waits for it: records are
// dropped once its queue is full, and other clients are served.
func TestSlowStreamReader(t *testing.T) {
	h := startServer(t, func(c *rpc.ServerConfig) {
		c.QueueSize = 8
		c.WriteTimeout = time.Hour // the stalled client stays connected
	})
	slow := dialRaw(t, h.addr)
	slow.handshake()
	slow.send(map[string]any{"Command": "stream", "Seq": 2}, map[string]any{"Type": "*"})
	if seq, e := slow.header(); seq != 2 || e != "" {
		t.Fatalf("stream response = (%d, %q); want (2, \"\")", seq, e)
	}
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })

	// Each event is a few KiB, so that a few thousand outgrow any socket
	// buffer.
	var ms []events.Member
	for i := range 20 {
		ms = append(ms, rpctest.Member(fmt.Sprintf("node-%02d", i), "10.0.0.1", events.StatusAlive,
			map[string]string{"blob": strings.Repeat("x", 200)}))
	}
	h.fake.SetMembers(ms...)
	published := make(chan struct{})
	go func() {
		defer close(published)
		for range 5000 {
			h.fake.Publish(memberJoin(ms...))
		}
	}()
	select {
	case <-published:
	case <-time.After(30 * time.Second):
		t.Fatal("publishing 5000 events to a stalled client did not finish within 30s")
	}
	if got := h.srv.Stats().RecordsDropped; got == 0 {
		t.Errorf("Stats().RecordsDropped = 0; want > 0 (the test did not fill the queue)")
	}
	other := dial(t, h.addr, "")
	if got, err := other.Members(testCtx(t)); err != nil || len(got) != len(ms) {
		t.Errorf("other client's Members() = (%d members, %v); want (%d, nil)", len(got), err, len(ms))
	}
}

// TestStalledClientDisconnected checks the write timeout: a client that
// stops reading is disconnected.
func TestStalledClientDisconnected(t *testing.T) {
	h := startServer(t, func(c *rpc.ServerConfig) { c.WriteTimeout = 200 * time.Millisecond })
	slow := dialRaw(t, h.addr)
	slow.handshake()
	slow.send(map[string]any{"Command": "stream", "Seq": 2}, map[string]any{"Type": "member-join"})
	if seq, e := slow.header(); seq != 2 || e != "" {
		t.Fatalf("stream response = (%d, %q); want (2, \"\")", seq, e)
	}
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })
	m := rpctest.Member("big", "10.0.0.1", events.StatusAlive, map[string]string{"blob": strings.Repeat("x", 4000)})
	waitFor(t, "the stalled client to be disconnected", func() bool {
		h.fake.Publish(memberJoin(m, m, m, m))
		return h.srv.Stats().Conns == 0
	})
}

// logHandler feeds slog records into a fake agent's logs, as the daemon's log buffer
// would, so that the server's own logs reach monitors.
type logHandler struct {
	logs *rpctest.Agent
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.logs.Log(r.Level, b.String())
	return nil
}
func (h logHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHandler) WithGroup(string) slog.Handler      { return h }

// TestMonitorOwnLogs routes the server's logs through the log source a
// monitor reads, the daemon's setup: the server must not wait on itself.
func TestMonitorOwnLogs(t *testing.T) {
	logs := &rpctest.Agent{}
	h := startServer(t, func(c *rpc.ServerConfig) {
		c.Logs = logs
		c.Logger = slog.New(logHandler{logs})
		c.QueueSize = 4
	})
	c := dial(t, h.addr, "")
	lines, _, err := c.Monitor(testCtx(t), "DEBUG")
	if err != nil {
		t.Fatalf("Monitor() = %v; want nil", err)
	}
	// Each failed auth logs a warning; many at once overflow the queue.
	for range 50 {
		_, err := rpc.Dial(testCtx(t), h.addr, "wrong")
		if !errors.Is(err, rpc.ErrInvalidAuthToken) {
			t.Fatalf("Dial(wrong key) = %v; want %v", err, rpc.ErrInvalidAuthToken)
		}
	}
	waitFor(t, "an invalid-key warning on the monitor", func() bool {
		select {
		case l := <-lines:
			return strings.Contains(l, "invalid auth key")
		default:
			return false
		}
	})
}

// TestNoRecordAfterStop checks the stop guarantee: once the response to
// stop is written, no record of that stream follows, even with records
// still queued when the stop arrived.
func TestNoRecordAfterStop(t *testing.T) {
	h := startServer(t, nil)
	c := dialRaw(t, h.addr)
	c.handshake()
	c.send(map[string]any{"Command": "stream", "Seq": 2}, map[string]any{"Type": "*"})
	if seq, e := c.header(); seq != 2 || e != "" {
		t.Fatalf("stream response = (%d, %q); want (2, \"\")", seq, e)
	}
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })
	// Records pile up in the queue while the client does not read.
	m := rpctest.Member("node-a", "10.0.0.1", events.StatusAlive, map[string]string{"blob": strings.Repeat("x", 1000)})
	for range 400 {
		h.fake.Publish(memberJoin(m, m, m))
	}
	c.send(map[string]any{"Command": "stop", "Seq": 3}, map[string]any{"Stop": 2},
		map[string]any{"Command": "members", "Seq": 4})
	var records int
	for stopped := false; ; {
		seq, e := c.header()
		switch {
		case seq == 2 && !stopped:
			records++
			var rec map[string]any
			if err := c.dec.Decode(&rec); err != nil {
				t.Fatalf("decode record: %v", err)
			}
		case seq == 3 && e == "":
			stopped = true
		case seq == 4 && stopped:
			var body map[string]any
			if err := c.dec.Decode(&body); err != nil {
				t.Fatalf("decode members: %v", err)
			}
			if records == 400 {
				t.Logf("all %d records were written before the stop; the queue was drained too fast to test", records)
			}
			return
		default:
			t.Fatalf("got a frame (seq %d, error %q) after %d records; stopped %v", seq, e, records, stopped)
		}
	}
}

// TestLeaveAnsweredBeforeExit checks the order of a leave: the answer is
// on the wire before the daemon is asked to exit, and the exit waits for
// the client to hang up.
func TestLeaveAnsweredBeforeExit(t *testing.T) {
	h := startServer(t, func(c *rpc.ServerConfig) { c.LeaveGrace = time.Hour })
	go func() { // the daemon
		<-h.srv.ExitRequested()
		h.srv.Shutdown()
	}()
	c := dialRaw(t, h.addr)
	c.handshake()
	c.send(map[string]any{"Command": "leave", "Seq": 2})
	if seq, e := c.header(); seq != 2 || e != "" {
		t.Fatalf("leave response = (%d, %q); want (2, \"\")", seq, e)
	}
	// Still served while connected.
	c.send(map[string]any{"Command": "stats", "Seq": 3})
	if seq, e := c.header(); seq != 3 || e != "" {
		t.Fatalf("stats response = (%d, %q); want (3, \"\")", seq, e)
	}
	select {
	case <-h.srv.ExitRequested():
		t.Fatal("ExitRequested() closed while the leaving client is connected")
	default:
	}
	c.nc.Close()
	select {
	case <-h.srv.ExitRequested():
	case <-time.After(10 * time.Second):
		t.Fatal("ExitRequested() not closed after the leaving client hung up")
	}
}
