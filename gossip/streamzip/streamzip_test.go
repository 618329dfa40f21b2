package streamzip

import (
	"bytes"
	"compress/lzw"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"

	"github.com/agentd/agent/gossip/memnet"
)

func TestCompressRoundTrip(t *testing.T) {
	msg := append([]byte{pushPullMsg}, []byte(strings.Repeat("node-0001 10.0.0.1 alive ", 200))...)
	z, err := Compress(msg)
	if err != nil {
		t.Fatal(err)
	}
	if z[0] != compressMsg {
		t.Fatalf("type byte %d, want %d", z[0], compressMsg)
	}
	if len(z) >= len(msg)/3 {
		t.Errorf("compressed to %d of %d bytes; a repetitive state should shrink more", len(z), len(msg))
	}
	var c compressed
	if err := codec.NewDecoderBytes(z[1:], &codec.MsgpackHandle{}).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Algo != lzwAlgo {
		t.Fatalf("algo %d", c.Algo)
	}
	got, err := io.ReadAll(lzw.NewReader(bytes.NewReader(c.Buf), lzw.LSB, lzwLitWidth))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %v, equal %v", err, bytes.Equal(got, msg))
	}
}

// recorder notes the type byte of every Write on its streams.
type recorder struct {
	memberlist.NodeAwareTransport
	mu    sync.Mutex
	types []byte
}

type recConn struct {
	net.Conn
	r *recorder
}

func (c recConn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.r.mu.Lock()
		c.r.types = append(c.r.types, b[0])
		c.r.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (r *recorder) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	c, err := r.NodeAwareTransport.DialAddressTimeout(a, d)
	if err != nil {
		return nil, err
	}
	return recConn{c, r}, nil
}

func (r *recorder) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.types)
}

// TestPushPullAcrossPlainMemberlist: a memberlist with its compression
// off behind Wrap joins one with compression on (as Serf runs it); the
// push/pull it sends is memberlist's compressed message, and both sides
// take each other's state.
func TestPushPullAcrossPlainMemberlist(t *testing.T) {
	nw := memnet.New(memnet.Config{})
	defer nw.Close()
	start := func(name string, tr memberlist.NodeAwareTransport, compress bool) *memberlist.Memberlist {
		c := memberlist.DefaultLocalConfig()
		c.Name, c.Transport, c.EnableCompression = name, tr, compress
		c.LogOutput = io.Discard
		ml, err := memberlist.Create(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ml.Shutdown() })
		return ml
	}
	rec := &recorder{NodeAwareTransport: nw.NewTransport()}
	ours := start("ours", Wrap(rec), false)
	plain := start("plain", nw.NewTransport(), true)
	if _, err := ours.Join([]string{plain.LocalNode().Address()}); err != nil {
		t.Fatalf("join: %v", err)
	}
	if ours.NumMembers() != 2 || plain.NumMembers() != 2 {
		t.Fatalf("members: ours %d, plain %d; want 2 each", ours.NumMembers(), plain.NumMembers())
	}
	types := rec.written()
	if !bytes.Contains(types, []byte{compressMsg}) || bytes.Contains(types, []byte{pushPullMsg}) {
		t.Errorf("stream writes began with %v: want the push/pull compressed (%d), never plain (%d)", types, compressMsg, pushPullMsg)
	}
}

func TestOtherWritesPassThrough(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &conn{Conn: a}
	msg := []byte{0, 1, 2, 3} // a ping over TCP
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %v, %v; want %v unchanged", got, err, msg)
	}
}
