package rpc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Client is a connection to an agent's RPC server: ours or a Serf agent.
// It is safe for concurrent use; calls are multiplexed on one connection.
type Client struct {
	nc net.Conn

	writeMu sync.Mutex // serializes requests on the wire
	bw      *bufio.Writer
	enc     *codec.Encoder

	seq atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]*call      // requests waiting for their response
	subs    map[uint64]*clientSub // streams and monitors, open or ended

	closeOnce  sync.Once
	closed     chan struct{} // closed when the connection ends
	cause      error         // why; set before closed is closed
	readerDone chan struct{}

	dropped atomic.Uint64
}

// call is a request waiting for its response.
type call struct {
	cmd  string
	body any // where to decode the response body; nil if none
	done chan error
}

// Dial connects to the agent at addr ("127.0.0.1:7373"), performs the
// handshake and, if authKey is not empty, authenticates. ctx bounds the
// whole of it. Errors from the agent match the package sentinels, e.g.
// errors.Is(err, ErrInvalidAuthToken).
func Dial(ctx context.Context, addr, authKey string) (*Client, error) {
	return DialWith(ctx, addr, DialOptions{AuthKey: authKey})
}

// DialOptions are the optional parts of a connection to an agent.
type DialOptions struct {
	// AuthKey, if set, is presented after the handshake.
	AuthKey string
	// TLS, if set, wraps a TCP connection in TLS (an agent started with
	// rpc_tls_cert_file). Without ServerName, the address's host is
	// verified.
	TLS *tls.Config
}

// DialWith is Dial with options. addr is "host:port", or UnixPrefix and
// a socket path.
func DialWith(ctx context.Context, addr string, opts DialOptions) (*Client, error) {
	authKey := opts.AuthKey
	nc, err := dialConn(ctx, addr, opts.TLS)
	if err != nil {
		return nil, fmt.Errorf("rpc dial %s: %w", addr, err)
	}
	c := newClient(nc)
	if err := c.call(ctx, cmdHandshake, &handshakeRequest{Version: maxIPCVersion}, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("rpc dial %s: %w", addr, err)
	}
	if authKey != "" {
		if err := c.call(ctx, cmdAuth, &authRequest{AuthKey: authKey}, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("rpc dial %s: %w", addr, err)
		}
	}
	return c, nil
}

// newClient wraps a connection and starts its reader goroutine; Close
// waits for it.
func newClient(nc net.Conn) *Client {
	c := &Client{
		nc:         nc,
		bw:         bufio.NewWriter(nc),
		pending:    make(map[uint64]*call),
		subs:       make(map[uint64]*clientSub),
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	c.enc = codec.NewEncoder(c.bw, msgpackHandle)
	go c.readLoop()
	return c
}

// Close closes the connection. Calls in progress fail with an error
// wrapping ErrClientClosed, and stream and monitor channels are closed.
// Close returns once the client's goroutine has exited. It is idempotent.
func (c *Client) Close() error {
	c.shutdown(ErrClientClosed)
	<-c.readerDone
	return nil
}

// Dropped returns how many stream events and monitor lines were dropped
// because the caller's channel was full.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// shutdown ends the connection with the given cause; the first cause wins.
func (c *Client) shutdown(cause error) {
	c.closeOnce.Do(func() {
		c.cause = cause
		close(c.closed)
		c.nc.Close()
	})
}

// closedErr is the error of a call cut off by the end of the connection.
func (c *Client) closedErr(cmd string) error {
	if errors.Is(c.cause, ErrClientClosed) {
		return fmt.Errorf("%s: %w", cmd, c.cause)
	}
	return fmt.Errorf("%s: %w: %w", cmd, ErrClientClosed, c.cause)
}

// call sends a request and waits for its response, decoding the body into
// resp (nil for none). When ctx ends first, the request stays registered
// so that the late response is still read off the wire, and is discarded.
func (c *Client) call(ctx context.Context, cmd string, req, resp any) error {
	_, err := c.roundTrip(ctx, cmd, req, resp)
	return err
}

// roundTrip is call, also reporting whether the request was completely
// written.
func (c *Client) roundTrip(ctx context.Context, cmd string, req, resp any) (sent bool, err error) {
	seq := c.seq.Add(1)
	cl := &call{cmd: cmd, body: resp, done: make(chan error, 1)}
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return false, c.closedErr(cmd)
	default:
	}
	c.pending[seq] = cl
	c.mu.Unlock()

	if err := c.send(ctx, cmd, seq, req); err != nil {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
		return false, fmt.Errorf("%s: %w", cmd, err)
	}
	select {
	case err := <-cl.done:
		return true, err
	case <-c.closed:
		select {
		case err := <-cl.done: // answered just before the end
			return true, err
		default:
			return true, c.closedErr(cmd)
		}
	case <-ctx.Done():
		return true, fmt.Errorf("%s: %w", cmd, context.Cause(ctx))
	}
}

// send writes one request. The write gives up when ctx ends. A failed
// write may leave half a request on the wire, so it ends the connection.
func (c *Client) send(ctx context.Context, cmd string, seq uint64, body any) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.closed:
		return c.closedErr(cmd)
	default:
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	// Interrupt a blocked write when ctx ends; wait for that to be over
	// before the next request sets its own deadline.
	err := c.nc.SetWriteDeadline(time.Time{})
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = c.nc.SetWriteDeadline(time.Unix(1, 0))
	})
	if err == nil {
		err = c.enc.Encode(&requestHeader{Command: cmd, Seq: seq})
	}
	if err == nil && body != nil {
		err = c.enc.Encode(body)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if !stop() {
		<-fired
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		c.shutdown(fmt.Errorf("write: %w", err))
		return err
	}
	return nil
}
