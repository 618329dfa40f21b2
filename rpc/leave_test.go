package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// scriptedAgent accepts one connection, answers the handshake, and then
// hands every further request header to onRequest. It stands in for agents
// that misbehave in ways our server does not.
func scriptedAgent(t *testing.T, onRequest func(nc *net.TCPConn, enc *codec.Encoder, cmd string, seq uint64) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		h := &codec.MsgpackHandle{WriteExt: true}
		dec := codec.NewDecoder(bufio.NewReader(nc), h)
		enc := codec.NewEncoder(nc, h)
		for {
			var hdr struct {
				Command string
				Seq     uint64
			}
			if err := dec.Decode(&hdr); err != nil {
				return
			}
			if hdr.Command == "handshake" {
				var body struct{ Version int32 }
				if dec.Decode(&body) != nil || enc.Encode(map[string]any{"Seq": hdr.Seq, "Error": ""}) != nil {
					return
				}
				continue
			}
			if !onRequest(nc.(*net.TCPConn), enc, hdr.Command, hdr.Seq) {
				return
			}
		}
	})
	return ln.Addr().String()
}

func TestClientLeave(t *testing.T) {
	t.Run("our agent answers, then exits", func(t *testing.T) {
		h := startServer(t, nil)
		c := dial(t, h.addr, "")
		go func() { // what the daemon does
			<-h.srv.ExitRequested()
			h.srv.Shutdown()
		}()
		if err := c.Leave(testCtx(t)); err != nil {
			t.Errorf("Leave() = %v; want nil", err)
		}
		if n := h.fake.Leaves(); n != 1 {
			t.Errorf("agent saw %d leaves; want 1", n)
		}
		// The client may go on using the connection until it hangs up or
		// LeaveGrace ends; then the agent exits and the connection closes.
		if _, err := c.Members(testCtx(t)); err != nil {
			t.Errorf("Members() right after Leave() = %v; want nil", err)
		}
		waitFor(t, "the connection to close", func() bool {
			_, err := c.Members(testCtx(t))
			return errors.Is(err, rpc.ErrClientClosed)
		})
		select {
		case <-h.srv.ExitRequested():
		default:
			t.Error("ExitRequested() open after the connection closed")
		}
	})
	t.Run("zero grace", func(t *testing.T) {
		h := startServer(t, func(c *rpc.ServerConfig) { c.LeaveGrace = 0 })
		c := dial(t, h.addr, "")
		if err := c.Leave(testCtx(t)); err != nil {
			t.Errorf("Leave() = %v; want nil", err)
		}
		select {
		case <-h.srv.ExitRequested():
		case <-time.After(10 * time.Second):
			t.Error("ExitRequested() not closed with LeaveGrace 0 and the client connected")
		}
	})
	t.Run("our agent fails to leave", func(t *testing.T) {
		h := startServer(t, nil)
		h.fake.Update(func(a *rpctest.Agent) { a.LeaveErr = errFake })
		c := dial(t, h.addr, "")
		err := c.Leave(testCtx(t))
		var re *rpc.RemoteError
		if !errors.As(err, &re) || re.Message != "fake failure" {
			t.Errorf("Leave() = %v; want *RemoteError %q", err, "fake failure")
		}
		select {
		case <-h.srv.ExitRequested(): // as with Serf, the agent exits anyway
		case <-time.After(10 * time.Second):
			t.Error("ExitRequested() not closed after a failed leave")
		}
	})

	tests := []struct {
		name string
		// onLeave acts on the leave request; it returns false to hang up.
		onLeave func(nc *net.TCPConn, enc *codec.Encoder, seq uint64) bool
		wantOK  bool
	}{
		{
			name: "answer then close",
			onLeave: func(nc *net.TCPConn, enc *codec.Encoder, seq uint64) bool {
				enc.Encode(map[string]any{"Seq": seq, "Error": ""})
				return false
			},
			wantOK: true,
		},
		{
			name:    "close without answer",
			onLeave: func(*net.TCPConn, *codec.Encoder, uint64) bool { return false },
			wantOK:  true,
		},
		{
			name: "reset without answer",
			onLeave: func(nc *net.TCPConn, _ *codec.Encoder, _ uint64) bool {
				nc.SetLinger(0) // Close sends a reset
				return false
			},
			wantOK: false,
		},
		{
			name: "error answer then close",
			onLeave: func(nc *net.TCPConn, enc *codec.Encoder, seq uint64) bool {
				enc.Encode(map[string]any{"Seq": seq, "Error": "leave timed out"})
				return false
			},
			wantOK: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := scriptedAgent(t, func(nc *net.TCPConn, enc *codec.Encoder, cmd string, seq uint64) bool {
				if cmd != "leave" {
					t.Errorf("scripted agent got %q; want leave", cmd)
					return false
				}
				return tt.onLeave(nc, enc, seq)
			})
			c := dial(t, addr, "")
			err := c.Leave(testCtx(t))
			if (err == nil) != tt.wantOK {
				t.Errorf("Leave() = %v; want success %v", err, tt.wantOK)
			}
		})
	}

	t.Run("connection already closed", func(t *testing.T) {
		addr := scriptedAgent(t, func(*net.TCPConn, *codec.Encoder, string, uint64) bool { return false })
		c := dial(t, addr, "")
		// The agent hangs up on this first request; once the client knows,
		// a leave is not sent and must not count as done.
		if _, err := c.Members(testCtx(t)); !errors.Is(err, rpc.ErrClientClosed) {
			t.Fatalf("Members() = %v; want %v", err, rpc.ErrClientClosed)
		}
		if err := c.Leave(testCtx(t)); !errors.Is(err, rpc.ErrClientClosed) {
			t.Errorf("Leave() on a closed connection = %v; want %v", err, rpc.ErrClientClosed)
		}
	})
}

// TestClientWriteCanceled checks that a request stuck in a write (the
// agent stopped reading) gives up when ctx ends, and that the connection,
// whose framing may now be broken, is closed.
func TestClientWriteCanceled(t *testing.T) {
	release := make(chan struct{})
	addr := scriptedAgent(t, func(*net.TCPConn, *codec.Encoder, string, uint64) bool {
		<-release // read nothing more
		return false
	})
	t.Cleanup(func() { close(release) })
	c := dial(t, addr, "")
	huge := map[string]string{}
	for i := range 1 << 14 {
		huge[fmt.Sprint(i)] = strings.Repeat("x", 1024) // 16 MiB in all
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	if err := c.UpdateTags(ctx, huge, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpdateTags() to a stalled agent = %v; want %v", err, context.DeadlineExceeded)
	}
	if _, err := c.Members(testCtx(t)); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("Members() after an interrupted write = %v; want %v", err, rpc.ErrClientClosed)
	}
}
