package rpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// request is one decoded request.
type request struct {
	seq  uint64
	name string
	// known reports whether name is a command Serf 0.10 knows; cmd and
	// body are set only then.
	known bool
	cmd   command
	// body is the decoded request body (a pointer from cmd.newRequest), or
	// nil for a command without one.
	body any
}

// malformedError means the client sent something that is not a request.
// The server answers it with ErrMalformedRequest and hangs up.
type malformedError struct {
	seq  uint64 // the request's Seq, if the header decoded; else 0
	what string // "header" or the command name
	err  error
}

func (e *malformedError) Error() string { return fmt.Sprintf("decode %s: %v", e.what, e.err) }
func (e *malformedError) Unwrap() error { return e.err }

// requestDecoder reads requests from a client. Whatever the input, it does
// not panic, reads at most maxRequestSize bytes per value, and allocates
// in proportion to what it has read, never to what a length claims.
type requestDecoder struct {
	r   *bufio.Reader
	dec *codec.Decoder
}

func newRequestDecoder(r *bufio.Reader) *requestDecoder {
	return &requestDecoder{r: r, dec: codec.NewDecoderBytes(nil, msgpackHandle)}
}

// next reads one request: its header and, for a known command with a
// request body, the body. It returns io.EOF when the input ends cleanly
// between requests, a *malformedError for input that is not a request, and
// the reader's error otherwise (a cut-off value gives io.ErrUnexpectedEOF).
//
// For an unknown command only the header is read: whether a body follows
// cannot be known, so the caller must stop reading.
func (d *requestDecoder) next() (request, error) {
	var hdr requestHeader
	if err := d.decode("header", 0, &hdr); err != nil {
		return request{}, err
	}
	req := request{seq: hdr.Seq, name: hdr.Command}
	req.cmd, req.known = lookupCommand(hdr.Command)
	if !req.known || req.cmd.newRequest == nil {
		return req, nil
	}
	req.body = req.cmd.newRequest()
	if err := d.decode(hdr.Command, hdr.Seq, req.body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header promised a body
		}
		return request{}, err
	}
	return req, nil
}

// decode reads one value and decodes it into v.
func (d *requestDecoder) decode(what string, seq uint64, v any) error {
	// A fresh buffer per value: decoded []byte fields may alias it.
	b, err := readValue(d.r, nil, maxRequestSize)
	if err != nil {
		if errors.Is(err, errValueTooLarge) || errors.Is(err, errInvalidByte) {
			return &malformedError{seq: seq, what: what, err: err}
		}
		return err
	}
	d.dec.ResetBytes(b)
	if err := d.dec.Decode(v); err != nil {
		return &malformedError{seq: seq, what: what, err: err}
	}
	return nil
}

// msgpackHandle is shared by every encoder and decoder of the package; a
// handle is safe for concurrent use once configured, and is never
// modified after this.
var msgpackHandle = newMsgpackHandle()
