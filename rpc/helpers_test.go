package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"github.com/agentd/agent/internal/testlog"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// testLogger routes logs to t.Log when -v is given, else discards them.
func testLogger(t testing.TB) *slog.Logger { return testlog.Logger(t) }

var errFake = errors.New("fake failure")

// harness is a running server over a fake agent.
type harness struct {
	srv  *rpc.Server
	addr string
	fake *rpctest.Agent
}

// startServer starts a server on 127.0.0.1:0 over a fresh fake agent;
// mutate, if not nil, may change the config first. The server is shut down, and the
// package's goroutines checked for leaks, at the end of the test.
func startServer(t *testing.T, mutate func(*rpc.ServerConfig)) *harness {
	t.Helper()
	h := &harness{fake: &rpctest.Agent{StatsMap: map[string]map[string]string{"agent": {"name": "node-a"}}}}
	cfg := rpc.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = h.fake, h.fake, h.fake, h.fake
	cfg.Logger = testLogger(t)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer() = %v; want nil", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil", err)
	}
	h.srv, h.addr = srv, srv.Addr().String()
	t.Cleanup(func() {
		srv.Shutdown()
		checkNoLeaks(t)
	})
	return h
}

// checkNoLeaks fails if goroutines running this package's code remain
// (after a grace period for ones that are returning).
func checkNoLeaks(t *testing.T) {
	t.Helper()
	var leaked []string
	ok := poll(5*time.Second, func() bool {
		leaked = rpcGoroutines()
		return len(leaked) == 0
	})
	if !ok {
		t.Errorf("goroutines left after Shutdown and Close:\n%s", strings.Join(leaked, "\n\n"))
	}
}

// rpcGoroutines returns the stacks of goroutines inside package rpc (not
// its tests).
func rpcGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/agentd/agent/rpc.") {
			out = append(out, g)
		}
	}
	return out
}

// poll calls cond until it returns true or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, not synchronization
	}
}

// waitFor fails the test unless cond becomes true within 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(5*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// testCtx returns a context that ends with the test or after 10 seconds.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects our client, failing the test on error.
func dial(t *testing.T, addr, key string) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(testCtx(t), addr, key)
	if err != nil {
		t.Fatalf("Dial(%s) = %v; want nil", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn speaks msgpack to a server by hand.
type rawConn struct {
	t   *testing.T
	nc  net.Conn
	r   *bufio.Reader
	enc *codec.Encoder
	dec *codec.Decoder
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	h := &codec.MsgpackHandle{WriteExt: true}
	r := bufio.NewReader(nc)
	return &rawConn{t: t, nc: nc, r: r, enc: codec.NewEncoder(nc, h), dec: codec.NewDecoder(r, h)}
}

// send encodes each value in turn.
func (c *rawConn) send(vs ...any) {
	c.t.Helper()
	for _, v := range vs {
		if err := c.enc.Encode(v); err != nil {
			c.t.Fatalf("encode %#v: %v", v, err)
		}
	}
}

// header reads one response header.
func (c *rawConn) header() (seq uint64, errMsg string) {
	c.t.Helper()
	var h struct {
		Seq   uint64
		Error string
	}
	if err := c.dec.Decode(&h); err != nil {
		c.t.Fatalf("read response header: %v", err)
	}
	return h.Seq, h.Error
}

// handshake performs the handshake and checks it succeeded.
func (c *rawConn) handshake() {
	c.t.Helper()
	c.send(map[string]any{"Command": "handshake", "Seq": 1}, map[string]any{"Version": 1})
	if seq, e := c.header(); seq != 1 || e != "" {
		c.t.Fatalf("handshake response = (%d, %q); want (1, \"\")", seq, e)
	}
}

// expectClosed fails unless the server closes the connection (after
// possibly sending a few more bytes).
func (c *rawConn) expectClosed() {
	c.t.Helper()
	buf := make([]byte, 512)
	for {
		if _, err := c.r.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("connection still open: %v", err)
			}
			return
		}
	}
}

// memberJoin returns a member-join event for the given members.
func memberJoin(ms ...events.Member) events.MemberEvent {
	return events.MemberEvent{Type: events.MemberJoin, Members: ms}
}
