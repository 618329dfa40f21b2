package rpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// ErrProtocol is wrapped by the error of calls cut off because the agent
// sent something the client cannot decode or frame; the client then
// closes the connection.
var ErrProtocol = errors.New("rpc protocol violation")

// readLoop reads responses and records until the connection ends, then
// fails what is pending and closes the subscription channels.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	r := bufio.NewReader(c.nc)
	dec := codec.NewDecoderBytes(nil, msgpackHandle)
	for {
		var h responseHeader
		if err := readInto(r, dec, &h); err != nil {
			c.shutdown(err) // io.EOF: the agent closed the connection
			break
		}
		if err := c.dispatch(r, dec, h); err != nil {
			c.shutdown(err)
			break
		}
	}
	c.mu.Lock()
	for _, s := range c.subs {
		s.closeChan()
	}
	c.mu.Unlock()
}

// readInto reads one msgpack value and decodes it into v.
func readInto(r *bufio.Reader, dec *codec.Decoder, v any) error {
	b, err := readValue(r, nil, maxResponseSize)
	if err != nil {
		if errors.Is(err, errValueTooLarge) || errors.Is(err, errInvalidByte) {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return err
	}
	dec.ResetBytes(b)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decode %T: %w", ErrProtocol, v, err)
	}
	return nil
}

// readBody reads the body that must follow a header: the end of input
// there is unexpected.
func readBody(r *bufio.Reader, dec *codec.Decoder, v any) error {
	if err := readInto(r, dec, v); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// dispatch routes one response header (and reads its body, if any).
func (c *Client) dispatch(r *bufio.Reader, dec *codec.Decoder, h responseHeader) error {
	c.mu.Lock()
	cl, isCall := c.pending[h.Seq]
	delete(c.pending, h.Seq)
	sub := c.subs[h.Seq]
	c.mu.Unlock()

	switch {
	case isCall:
		err := decodeError(cl.cmd, h.Error)
		if cl.body != nil && !noBodyError(h.Error) {
			if berr := readBody(r, dec, cl.body); berr != nil {
				cl.done <- fmt.Errorf("%s: %w", cl.cmd, berr)
				return berr
			}
		}
		cl.done <- err
		return nil
	case sub != nil:
		return c.subFrame(r, dec, sub, h)
	case noBodyError(h.Error):
		// A Serf agent that refuses a request before reading its body
		// ("Authentication required") then reads the body as a header and
		// answers that too, with Seq 0. Nothing follows such an answer.
		return nil
	default:
		return fmt.Errorf("%w: response for unknown seq %d", ErrProtocol, h.Seq)
	}
}

// subFrame handles a frame for a stream or monitor: first its response,
// then records.
func (c *Client) subFrame(r *bufio.Reader, dec *codec.Decoder, s *clientSub, h responseHeader) error {
	c.mu.Lock()
	replied := s.replied
	s.replied = true
	if !replied && h.Error != "" {
		delete(c.subs, s.seq) // refused: no records will follow
		s.closeChan()
	}
	c.mu.Unlock()
	if !replied {
		s.init <- decodeError(s.cmd, h.Error)
		return nil
	}

	// A record. Records of an ended subscription (stopped, or given up
	// before its response) are read and discarded: a Serf agent may still
	// send some after answering the stop.
	var rec any = new(streamRecord)
	switch s.cmd {
	case cmdMonitor:
		rec = new(logRecord)
	case cmdQuery:
		rec = new(queryRecord)
	}
	if err := readBody(r, dec, rec); err != nil {
		return err
	}
	c.mu.Lock()
	full := s.deliver(rec)
	if s.cmd == cmdQuery && !s.open {
		delete(c.subs, s.seq) // done: nothing more comes for this seq
	}
	c.mu.Unlock()
	if full {
		c.dropped.Add(1)
	}
	return nil
}
