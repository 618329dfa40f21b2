package gossip

import (
	"net"
	"testing"

	"github.com/agentd/agent/events"
)

// FuzzDecodeMessage: no input may panic the decoder, and whatever decodes
// as a join or leave must survive a re-encode unchanged.
func FuzzDecodeMessage(f *testing.F) {
	for _, b := range validMessages(f) {
		f.Add(b)
	}
	for _, tt := range malformedMessages(f) {
		if len(tt.buf) < 4096 {
			f.Add(tt.buf)
		}
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		msg, err := decodeMessage(buf)
		if err != nil {
			return
		}
		switch {
		case msg.Join != nil:
			again, err := decodeMessage(mustEncode(t, msgJoin, msg.Join))
			if err != nil || *again.Join != *msg.Join {
				t.Errorf("join re-decode = %+v, %v; want %+v", again.Join, err, msg.Join)
			}
		case msg.Leave != nil:
			again, err := decodeMessage(mustEncode(t, msgLeave, msg.Leave))
			if err != nil || *again.Leave != *msg.Leave {
				t.Errorf("leave re-decode = %+v, %v; want %+v", again.Leave, err, msg.Leave)
			}
		}
	})
}

// FuzzDecodeTags: node meta from the network never panics the tag decoder.
func FuzzDecodeTags(f *testing.F) {
	meta, _ := EncodeTags(map[string]string{"role": "web", "dc": "eu"}, 5)
	f.Add(meta)
	f.Add([]byte("web"))
	f.Add([]byte{tagMagicByte, 0x81, 0xc1})
	f.Fuzz(func(t *testing.T, meta []byte) {
		tags, err := DecodeTags(meta)
		if err == nil && tags == nil {
			t.Errorf("DecodeTags(%x) = nil map, nil error", meta)
		}
	})
}

func FuzzDecodeConflictResponse(f *testing.F) {
	for _, m := range []*events.Member{nil, {Name: "a", Addr: net.ParseIP("10.0.0.1"), Port: 7946, Tags: map[string]string{"role": "web"}}} {
		b, err := encodeMessage(msgConflictResponse, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{byte(msgConflictResponse)})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeConflictResponse(b)
		if err != nil && m != nil {
			t.Errorf("error %v with a member %+v", err, m)
		}
	})
}
