package rpc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// encode returns the msgpack encoding of each value, concatenated.
func encode(t testing.TB, vs ...any) []byte {
	t.Helper()
	var b []byte
	enc := codec.NewEncoderBytes(&b, msgpackHandle)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
	}
	return b
}

func TestReadValueFramesEveryType(t *testing.T) {
	values := []any{
		nil, true, false, 0, 127, -1, -32, -33, 200, 70000, int64(math.MaxInt64), int64(math.MinInt64),
		uint64(math.MaxUint64), float32(1.5), 2.5, "", "short", string(bytes.Repeat([]byte("s"), 40)),
		string(bytes.Repeat([]byte("s"), 300)), string(bytes.Repeat([]byte("s"), 70000)),
		[]byte{}, []byte{1, 2}, bytes.Repeat([]byte{7}, 300), bytes.Repeat([]byte{7}, 70000),
		[]int{}, []int{1, 2, 3}, make([]int, 20), make([]int, 70000),
		map[string]int{}, map[string]int{"a": 1}, map[string][]string{"x": {"y", "z"}},
		map[string]any{"Command": "members", "Seq": uint64(1)},
		time.Unix(1700000000, 5).UTC(), // an ext value
		membersResponse{Members: []memberRecord{{Name: "a", Addr: []byte{1, 2, 3, 4}, Tags: map[string]string{"k": "v"}}}},
	}
	for _, v := range values {
		one := encode(t, v)
		// Followed by a marker value that must stay unread.
		r := bufio.NewReader(bytes.NewReader(append(bytes.Clone(one), 0x2a)))
		got, err := readValue(r, nil, maxResponseSize)
		if err != nil || !bytes.Equal(got, one) {
			t.Errorf("readValue(%T %.40v) = (%d bytes, %v); want (%d bytes, nil)", v, v, len(got), err, len(one))
			continue
		}
		if b, err := r.ReadByte(); err != nil || b != 0x2a {
			t.Errorf("after readValue(%T): next byte = (%#x, %v); want 0x2a", v, b, err)
		}
	}
}

func TestReadValueErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{"empty", nil, 100, io.EOF},
		{"cut string", []byte{0xa5, 'a', 'b'}, 100, io.ErrUnexpectedEOF},
		{"cut length", []byte{0xda, 0x01}, 100, io.ErrUnexpectedEOF},
		{"cut array", []byte{0x93, 0x01, 0x02}, 100, io.ErrUnexpectedEOF},
		{"cut map", []byte{0x81, 0xa1, 'k'}, 100, io.ErrUnexpectedEOF},
		{"invalid byte", []byte{0xc1}, 100, errInvalidByte},
		{"invalid byte nested", []byte{0x92, 0x01, 0xc1}, 100, errInvalidByte},
		{"4 GiB string announced", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}, 1 << 20, errValueTooLarge},
		{"4 GiB bin announced", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}, 1 << 20, errValueTooLarge},
		{"4 GiB ext announced", []byte{0xc9, 0xff, 0xff, 0xff, 0xff}, 1 << 20, errValueTooLarge},
		{"4G-entry map announced", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, 1 << 20, errValueTooLarge},
		{"4G-entry array announced", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, 1 << 20, errValueTooLarge},
		{"just over the limit", []byte{0xa4, 'a', 'b', 'c', 'd'}, 4, errValueTooLarge},
		{"nested arrays over the limit", []byte{0x9f, 0x9f, 0x9f}, 20, errValueTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readValue(bufio.NewReader(bytes.NewReader(tt.in)), nil, tt.limit)
			if !errors.Is(err, tt.want) {
				t.Errorf("readValue(% x, limit %d) = %v; want %v", tt.in, tt.limit, err, tt.want)
			}
		})
	}
	// Exactly at the limit is fine.
	if _, err := readValue(bufio.NewReader(bytes.NewReader([]byte{0xa4, 'a', 'b', 'c', 'd'})), nil, 5); err != nil {
		t.Errorf("readValue(5 bytes, limit 5) = %v; want nil", err)
	}
}

// FuzzReadValue checks readValue against the codec: whenever the codec
// decodes a value from the input, readValue must frame exactly the bytes
// the codec consumed (but see the zero-length ext case below).
func FuzzReadValue(f *testing.F) {
	for _, seed := range [][]byte{
		encode(f, map[string]any{"Command": "join", "Seq": 3}),
		encode(f, []any{1, "a", []byte{1}, map[string]any{"b": 2.5}, nil, true}),
		encode(f, time.Unix(1, 2)),
		{0xd4, 0x01, 0x02}, {0xc7, 0x01, 0x05, 0xff}, {0xc7, 0x00, 0x30, 0x30}, {0xdb, 0, 0, 0, 1, 'a'}, {0xc1}, {0x92, 0x90},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var v any
		dec := codec.NewDecoderBytes(in, msgpackHandle)
		codecErr := dec.Decode(&v)
		got, err := readValue(bufio.NewReader(bytes.NewReader(in)), nil, len(in)+1)
		if codecErr != nil {
			return // readValue may frame what the codec rejects
		}
		n := dec.NumBytesRead()
		if err != nil {
			t.Fatalf("codec read %d bytes; readValue(% x) = %v", n, in, err)
		}
		if len(got) != n {
			// go-msgpack reads a zero-length ext as "a value follows"; the
			// spec says it is complete. Framing by the spec is safe as long
			// as the codec then rejects the framed bytes on their own: the
			// request is refused, not misread.
			var w any
			if codec.NewDecoderBytes(got, msgpackHandle).Decode(&w) == nil {
				t.Fatalf("codec read %d bytes; readValue(% x) framed %d bytes, which decode alone", n, in, len(got))
			}
		}
	})
}
