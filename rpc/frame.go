package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Size limits for one msgpack value read from the network, in bytes.
const (
	// maxRequestSize bounds one request header or body on the server.
	// Serf's largest legitimate requests (a query of 1 KiB, a user event
	// of at most 9 KiB, a join with many addresses) are far below it.
	maxRequestSize = 1 << 20
	// maxResponseSize bounds one response header, body or record on the
	// client: a member list of tens of thousands of members fits.
	maxResponseSize = 64 << 20
)

var (
	// errValueTooLarge: a value (or its declared length) exceeds the limit.
	errValueTooLarge = errors.New("msgpack value too large")
	// errInvalidByte: 0xc1, which msgpack never uses.
	errInvalidByte = errors.New("invalid msgpack type byte 0xc1")
)

// newMsgpackHandle returns the codec settings Serf 0.10 uses on both ends
// of the IPC connection: WriteExt (new msgpack spec: str vs bin, so strings
// decode as strings even into interface{}), RawToString unset, and
// TimeNotBuiltin (Serf's default, MsgpackUseNewTimeFormat=false; no IPC
// record holds a time.Time, so it only matters for symmetry).
func newMsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TimeNotBuiltin = true
	return h
}

// readValue reads exactly one msgpack value from r and returns its encoded
// bytes, appended to buf[:0]. It checks every declared length against limit
// before reading or allocating, so hostile lengths cost nothing. It returns
// io.EOF only when r ends before the first byte; a value cut short gives
// io.ErrUnexpectedEOF.
//
// Decoding happens afterwards from the returned bytes, so a broken or
// oversized value never reaches the codec half-read.
func readValue(r *bufio.Reader, buf []byte, limit int) ([]byte, error) {
	buf = buf[:0]
	for pending := uint64(1); pending > 0; pending-- {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		buf = append(buf, b)
		skip, children, lenBytes, err := describeByte(b)
		if err != nil {
			return nil, err
		}
		if lenBytes > 0 {
			start := len(buf)
			if buf, err = readN(r, buf, lenBytes); err != nil {
				return nil, err
			}
			n := readLength(buf[start:])
			switch {
			case b >= 0xc7 && b <= 0xc9: // ext: length, then a type byte
				skip = n + 1
			case b == 0xdc || b == 0xdd: // array
				children = n
			case b == 0xde || b == 0xdf: // map
				children = 2 * n
			default: // str, bin
				skip = n
			}
		}
		// Every value still owed needs at least one byte.
		if uint64(len(buf))+skip+children+pending-1 > uint64(limit) {
			return nil, fmt.Errorf("%w (limit %d bytes)", errValueTooLarge, limit)
		}
		if buf, err = readN(r, buf, int(skip)); err != nil {
			return nil, err
		}
		pending += children
	}
	return buf, nil
}

// describeByte classifies a msgpack type byte: how many payload bytes
// follow it, how many nested values, or, for types with an explicit
// length, how many bytes that length takes.
func describeByte(b byte) (skip, children uint64, lenBytes int, err error) {
	switch {
	case b <= 0x7f || b >= 0xe0: // positive and negative fixint
	case b <= 0x8f: // fixmap
		children = 2 * uint64(b&0x0f)
	case b <= 0x9f: // fixarray
		children = uint64(b & 0x0f)
	case b <= 0xbf: // fixstr
		skip = uint64(b & 0x1f)
	case b == 0xc0, b == 0xc2, b == 0xc3: // nil, false, true
	case b == 0xc1:
		err = errInvalidByte
	case b == 0xc4, b == 0xc7, b == 0xd9: // bin8, ext8, str8
		lenBytes = 1
	case b == 0xc5, b == 0xc8, b == 0xda, b == 0xdc, b == 0xde: // 16-bit lengths
		lenBytes = 2
	case b == 0xc6, b == 0xc9, b == 0xdb, b == 0xdd, b == 0xdf: // 32-bit lengths
		lenBytes = 4
	case b == 0xca: // float32
		skip = 4
	case b == 0xcb: // float64
		skip = 8
	case b >= 0xcc && b <= 0xd3: // uint8..64, int8..64
		skip = 1 << ((b - 0xcc) % 4)
	default: // 0xd4..0xd8: fixext 1, 2, 4, 8, 16 plus the type byte
		skip = 1 + 1<<(b-0xd4)
	}
	return skip, children, lenBytes, err
}

// readLength decodes a big-endian length of 1, 2 or 4 bytes.
func readLength(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	default:
		return uint64(binary.BigEndian.Uint32(b))
	}
}

// readN appends exactly n bytes from r to buf.
func readN(r *bufio.Reader, buf []byte, n int) ([]byte, error) {
	if n == 0 {
		return buf, nil
	}
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
