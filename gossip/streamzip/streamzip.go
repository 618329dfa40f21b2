// Package streamzip compresses memberlist's push/pull messages on their
// way onto a stream, in memberlist's own compressed-message format, so
// that memberlist's compression can stay off for packets.
//
// memberlist's EnableCompression is one switch for both paths, and on the
// packet path it costs a fresh 64 KB LZW table per packet sent, for pings
// and acks too small to ever shrink. On 100 agents sharing 2 cores that
// was half the CPU of a mass join (12.2 s to converge against 5.6 s with
// compression off). The push/pull state, the one large message, is where
// compression pays: it shrinks about 7 times. Wrap compresses exactly
// those, with pooled LZW writers; the bytes on the wire are what
// memberlist would have sent with compression on, so every peer (Serf
// included) reads them unchanged.
//
// It relies on two facts of memberlist's stream protocol: a message is
// written with one Write call, starting with its type byte, and a reader
// accepts a compressed message (type 9: msgpack {Algo: 0 (LZW), Buf}) in
// place of any message. Encrypted streams start with the encrypted-message
// type and pass through untouched, so Wrap is only worth using without
// encryption.
package streamzip

import (
	"bytes"
	"compress/lzw"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// memberlist's message types and compression constants (wire facts).
const (
	pushPullMsg = 6
	compressMsg = 9
	lzwAlgo     = 0
	lzwLitWidth = 8
)

// compressed is memberlist's compressed message body.
type compressed struct {
	Algo uint8
	Buf  []byte
}

// Wrap returns t with every push/pull message written on its streams
// (dialed or accepted) compressed.
func Wrap(t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	w := &transport{NodeAwareTransport: t, streams: make(chan net.Conn), done: make(chan struct{})}
	w.wg.Add(1)
	go w.forward()
	return w
}

type transport struct {
	memberlist.NodeAwareTransport
	streams  chan net.Conn
	done     chan struct{}
	shutdown sync.Once
	wg       sync.WaitGroup
}

func (t *transport) forward() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.StreamCh()
	for {
		select {
		case c := <-in:
			select {
			case t.streams <- &conn{Conn: c}:
			case <-t.done:
				c.Close()
				return
			}
		case <-t.done:
			return
		}
	}
}

// StreamCh implements memberlist.Transport.
func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

// DialTimeout implements memberlist.Transport.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.NodeAwareTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// Shutdown implements memberlist.Transport.
func (t *transport) Shutdown() error {
	t.shutdown.Do(func() { close(t.done) })
	err := t.NodeAwareTransport.Shutdown()
	t.wg.Wait()
	return err
}

// conn compresses the push/pull messages written on it.
type conn struct{ net.Conn }

func (c *conn) Write(b []byte) (int, error) {
	if len(b) == 0 || b[0] != pushPullMsg {
		return c.Conn.Write(b)
	}
	z, err := Compress(b)
	if err != nil {
		return c.Conn.Write(b) // sent as is: still a valid message
	}
	if _, err := c.Conn.Write(z); err != nil {
		return 0, err
	}
	return len(b), nil
}

var writers = sync.Pool{New: func() any { return lzw.NewWriter(nil, lzw.LSB, lzwLitWidth).(*lzw.Writer) }}

// msgpackHandle is memberlist's encoding (the default handle), shared by
// every call: a handle caches its per-type codec functions.
var msgpackHandle = &codec.MsgpackHandle{}

// Compress returns msg (a whole memberlist message, type byte first) as
// memberlist's compressed message.
func Compress(msg []byte) ([]byte, error) {
	var body bytes.Buffer
	w := writers.Get().(*lzw.Writer)
	defer writers.Put(w)
	w.Reset(&body, lzw.LSB, lzwLitWidth)
	if _, err := w.Write(msg); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, body.Len()+16))
	out.WriteByte(compressMsg)
	if err := codec.NewEncoder(out, msgpackHandle).Encode(&compressed{Algo: lzwAlgo, Buf: body.Bytes()}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
