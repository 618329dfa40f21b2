package rpc

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Hanging up on a misbehaving client: after the error reply the server
// half-closes and reads (and discards) what the client still sends, for at
// most this long or this many bytes, so that closing with unread input
// does not reset the connection before the client has read the reply.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// conn is one client connection. Its reader goroutine decodes and runs
// commands one at a time, in order; its writer goroutine is the only one
// that writes to the socket.
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger
	r   *bufio.Reader

	// State owned by the reader goroutine.
	version int32 // from the handshake; 0 before
	authed  bool
	monitor *subscription            // the open monitor, if any
	streams map[uint64]*subscription // open streams by Seq
	// pending are the queries streamed to this client, for "respond";
	// stream pumps add, the reader takes.
	pending pendingQueries
	// exitOnClose is set once a leave has been answered: the end of this
	// connection requests the agent's exit.
	exitOnClose bool

	// replies carries responses to the writer. Unbuffered: once a send
	// returns, the writer has the response and writes it before any record
	// queued later, which is what lets a stream's first record follow its
	// response.
	replies chan frame
	// records carries stream and monitor records; bounded, never waited on.
	records chan frame
	// done is closed by close.
	done      chan struct{}
	closeOnce sync.Once

	dropped       atomic.Uint64 // records dropped on this connection
	droppedLogged uint64        // writer goroutine only
}

// frame is one response or record for the writer.
type frame struct {
	header responseHeader
	body   any // nil: header only
	// sub is set for a record; the record is skipped once sub has ended.
	sub *subscription
	// written, if set, receives the outcome once the frame is flushed.
	written chan error
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:     s,
		nc:      nc,
		log:     s.logger.With("client", nc.RemoteAddr().String()),
		r:       bufio.NewReader(nc),
		streams: make(map[uint64]*subscription),
		replies: make(chan frame),
		records: make(chan frame, s.cfg.QueueSize),
		done:    make(chan struct{}),
	}
}

// close ends the connection; safe to call from any goroutine, repeatedly.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// readLoop reads and runs requests until the client goes away, sends
// something that is not a request, or the server shuts down.
func (c *conn) readLoop() {
	defer c.finish()
	dec := newRequestDecoder(c.r)
	for {
		req, err := dec.next()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// readFailed logs why reading stopped and, for a malformed request,
// answers it before hanging up.
func (c *conn) readFailed(err error) {
	var bad *malformedError
	switch {
	case errors.As(err, &bad):
		c.log.Warn("rpc client sent a malformed request; disconnecting", "err", err)
		c.replyFlushed(bad.seq, withDetail(ErrMalformedRequest, err.Error()), nil)
		c.linger()
	case err == io.EOF, c.isClosedErr(err), c.exitOnClose:
		c.log.Debug("rpc client disconnected", "err", err)
	default:
		c.log.Debug("rpc client read failed", "err", err)
	}
}

// finish tears the connection down once the reader is done.
func (c *conn) finish() {
	if c.exitOnClose {
		c.srv.requestExit()
	}
	c.close()
	if c.monitor != nil {
		c.monitor.end()
	}
	for _, s := range c.streams {
		s.end()
	}
	c.srv.removeConn(c)
}

// linger half-closes and drains the client's input for a little while
// (see lingerTimeout), so the reply just sent is not lost to a reset.
func (c *conn) linger() {
	if hc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, c.r, lingerBytes)
}

// handle checks the connection's state and runs a request. It returns false
// when the connection must be closed.
func (c *conn) handle(req request) bool {
	needAuth := c.srv.cfg.AuthKey != "" && !c.authed
	if !req.known {
		// Serf's order of checks. Then hang up: we cannot tell whether a
		// body follows, so the next value cannot be trusted as a header.
		msg := ErrUnsupportedCommand.Error()
		switch {
		case c.version == 0:
			msg = ErrHandshakeRequired.Error()
		case needAuth:
			msg = ErrAuthRequired.Error()
		}
		c.log.Warn("rpc client sent an unknown command; disconnecting", "command", req.name)
		c.replyFlushed(req.seq, msg, nil)
		c.linger()
		return false
	}
	if c.version == 0 && req.name != cmdHandshake {
		// Serf hangs up here; we have read the body, so we can go on.
		c.reply(req.seq, ErrHandshakeRequired.Error(), nil)
		return true
	}
	if needAuth && req.name != cmdHandshake && req.name != cmdAuth {
		c.log.Warn("rpc client sent a command before authenticating", "command", req.name)
		c.reply(req.seq, ErrAuthRequired.Error(), nil)
		return true
	}
	c.dispatch(req)
	return true
}

// reply hands a response to the writer and returns once the writer has it
// (not once it is written). It reports false if the connection is closed.
func (c *conn) reply(seq uint64, errMsg string, body any) bool {
	return c.send(frame{header: responseHeader{Seq: seq, Error: errMsg}, body: body})
}

// replyCmd answers req with err (nil for success) and body. A command whose
// responses have a body always gets one, since Serf's client reads it even
// after an error: a nil body is replaced by the command's empty one.
func (c *conn) replyCmd(req request, err error, body any) bool {
	if body == nil && req.cmd.newResponse != nil {
		body = req.cmd.newResponse()
	}
	return c.reply(req.seq, errText(err), body)
}

// replyFlushed is reply, but returns only once the response is flushed to
// the socket (or failed to be).
func (c *conn) replyFlushed(seq uint64, errMsg string, body any) {
	f := frame{header: responseHeader{Seq: seq, Error: errMsg}, body: body, written: make(chan error, 1)}
	if c.send(f) {
		<-f.written // the writer always reports a frame it has taken
	}
}

func (c *conn) send(f frame) bool {
	select {
	case c.replies <- f:
		return true
	case <-c.done:
		return false
	}
}

// enqueueRecord queues a stream or monitor record without waiting: if the
// queue is full the record is dropped and counted (the writer logs drops).
// It never logs itself, so that a monitor's pump cannot wait on its own
// log source.
func (c *conn) enqueueRecord(sub *subscription, body any) {
	select {
	case c.records <- frame{header: responseHeader{Seq: sub.seq}, body: body, sub: sub}:
	default:
		c.dropped.Add(1)
		c.srv.dropped.Add(1)
	}
}

// writeLoop writes responses and records until the connection closes. A
// failed or timed-out write closes the connection.
func (c *conn) writeLoop() {
	bw := bufio.NewWriter(c.nc)
	enc := codec.NewEncoder(bw, msgpackHandle)
	defer c.logDrops()
	for {
		var f frame
		select {
		case f = <-c.replies: // responses first
		default:
			select {
			case f = <-c.replies:
			case f = <-c.records:
			case <-c.done:
				return
			}
		}
		err := c.write(bw, enc, f)
		if f.written != nil {
			f.written <- err
		}
		if err != nil {
			if !c.isClosedErr(err) {
				c.log.Warn("rpc write failed; disconnecting", "err", err)
			}
			c.close()
			return
		}
		if f.sub != nil {
			c.logDrops()
		}
	}
}

// write encodes one frame, unless it is a record of an ended subscription.
// Records are flushed only once no other record is waiting, so a burst (a
// monitor's replay) goes out in few writes; responses are flushed at once.
func (c *conn) write(bw *bufio.Writer, enc *codec.Encoder, f frame) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	if f.sub == nil || !f.sub.ended() {
		if err := enc.Encode(&f.header); err != nil {
			return err
		}
		if f.body != nil {
			if err := enc.Encode(f.body); err != nil {
				return err
			}
		}
	}
	if f.sub != nil && len(c.records) > 0 {
		return nil
	}
	return bw.Flush()
}

// logDrops logs records dropped since the last call. Only the writer
// calls it: the writer never holds up a log source.
func (c *conn) logDrops() {
	n := c.dropped.Load()
	if n == c.droppedLogged {
		return
	}
	c.log.Warn("rpc client too slow: dropped stream/monitor records", "dropped", n-c.droppedLogged, "total", n)
	c.droppedLogged = n
}

// isClosedErr reports whether err comes from the connection having been
// closed on purpose.
func (c *conn) isClosedErr(err error) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	return errors.Is(err, net.ErrClosed)
}

// authOK compares an auth key with the configured one in constant time.
func (c *conn) authOK(key string) bool {
	return subtle.ConstantTimeCompare([]byte(key), []byte(c.srv.cfg.AuthKey)) == 1
}

// errText is the wire form of an error: "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
