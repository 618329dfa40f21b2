package memnet

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pipeLimit is how many bytes a stream buffers in each direction before a
// Write blocks, like a socket's send and receive buffers together.
const pipeLimit = 256 << 10

// stream is one connection: a is the dialer's end, b the acceptor's.
type stream struct {
	net  *Network
	a, b *conn
	open atomic.Int32 // ends not yet closed
}

func newStream(n *Network, from, to *Transport) *stream {
	ab, ba := newPipe(), newPipe()
	s := &stream{net: n}
	s.a = newConn(s, from.addr, from.tcpAddr, to.tcpAddr, ba, ab)
	s.b = newConn(s, to.addr, to.tcpAddr, from.tcpAddr, ab, ba)
	s.open.Store(2)
	return s
}

// reset breaks both directions: every later read or write on either end
// fails with err, and buffered data is discarded.
func (s *stream) reset(err error) {
	s.a.rx.fail(err)
	s.b.rx.fail(err)
}

// pipe is one direction of a stream: a bounded byte buffer with one writer
// end and one reader end.
type pipe struct {
	mu   sync.Mutex
	buf  []byte
	eof  bool          // writer closed: reads return io.EOF once buf is empty
	rerr error         // reads fail with it at once
	werr error         // writes fail with it at once
	wake chan struct{} // closed and replaced on every change
}

func newPipe() *pipe { return &pipe{wake: make(chan struct{})} }

func (p *pipe) changedLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *pipe) read(b []byte, deadline <-chan struct{}) (int, error) {
	for {
		if isClosed(deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		p.mu.Lock()
		switch {
		case p.rerr != nil:
			err := p.rerr
			p.mu.Unlock()
			return 0, err
		case len(p.buf) > 0:
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.changedLocked()
			p.mu.Unlock()
			return n, nil
		case p.eof:
			p.mu.Unlock()
			return 0, io.EOF
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
		}
	}
}

// write appends all of b, blocking while the buffer is full. It returns as
// soon as the last byte is buffered: what the reader does after that (read,
// close) cannot fail a write that completed.
func (p *pipe) write(b []byte, deadline <-chan struct{}) (int, error) {
	done := 0
	for {
		if isClosed(deadline) {
			return done, os.ErrDeadlineExceeded
		}
		p.mu.Lock()
		if err := p.werr; err != nil {
			p.mu.Unlock()
			return done, err
		}
		if k := min(pipeLimit-len(p.buf), len(b)-done); k > 0 {
			p.buf = append(p.buf, b[done:done+k]...)
			done += k
			p.changedLocked()
		}
		if done == len(b) {
			p.mu.Unlock()
			return done, nil
		}
		wake := p.wake // the buffer is full
		p.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
		}
	}
}

// closeReader is the reading end's Close: its reads fail with net.ErrClosed
// and the writer's with io.ErrClosedPipe (a broken pipe).
func (p *pipe) closeReader() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rerr = firstErr(p.rerr, net.ErrClosed)
	p.werr = firstErr(p.werr, io.ErrClosedPipe)
	p.buf = nil
	p.changedLocked()
}

// closeWriter is the writing end's Close: its writes fail with
// net.ErrClosed, and the reader reads io.EOF after the buffered data.
func (p *pipe) closeWriter() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.werr = firstErr(p.werr, net.ErrClosed)
	p.eof = true
	p.changedLocked()
}

// fail makes both ends of the pipe fail with err, unless closed already.
func (p *pipe) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rerr = firstErr(p.rerr, err)
	p.werr = firstErr(p.werr, err)
	p.buf = nil
	p.changedLocked()
}

func firstErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// conn is one end of a stream; it implements net.Conn.
type conn struct {
	s             *stream
	owner         string // address of the Transport this end belongs to
	local, remote net.Addr
	rx, tx        *pipe
	rd, wd        *deadline
	closed        atomic.Bool
}

func newConn(s *stream, owner string, local, remote net.Addr, rx, tx *pipe) *conn {
	return &conn{
		s: s, owner: owner, local: local, remote: remote, rx: rx, tx: tx,
		rd: newDeadline(), wd: newDeadline(),
	}
}

func (c *conn) Read(b []byte) (int, error) { return c.rx.read(b, c.rd.wait()) }
func (c *conn) Write(b []byte) (int, error) {
	n, err := c.tx.write(b, c.wd.wait())
	c.s.net.stats.streamBytes.Add(uint64(n))
	return n, err
}

// Close closes this end. The peer reads the data already written, then
// io.EOF; its writes fail. A second Close returns net.ErrClosed.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	c.rx.closeReader()
	c.tx.closeWriter()
	c.rd.stop()
	c.wd.stop()
	if c.s.open.Add(-1) == 0 {
		c.s.net.unregister(c.s)
	}
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *conn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// deadline is a settable point in time with a channel that is closed when
// it passes. Changing it applies to reads and writes already blocked.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	gen     uint64        // bumped by every change, so stale timers do nothing
	expired chan struct{} // closed once the deadline has passed
}

func newDeadline() *deadline {
	return &deadline{expired: make(chan struct{})}
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
	passed := isClosed(d.expired)
	wait := time.Until(t)
	switch {
	case t.IsZero() || wait > 0:
		if passed {
			d.expired = make(chan struct{})
		}
	case !passed:
		close(d.expired)
	}
	if t.IsZero() || wait <= 0 {
		return
	}
	gen, expired := d.gen, d.expired
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			close(expired)
		}
	})
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *deadline) stopLocked() {
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
