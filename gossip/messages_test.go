package gossip

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"
)

func mustEncode(t testing.TB, mt messageType, msg any) []byte {
	t.Helper()
	b, err := encodeMessage(mt, msg)
	if err != nil {
		t.Fatalf("encodeMessage(%s): %v", mt, err)
	}
	return b
}

// validMessages are well-formed messages of every type we decode.
func validMessages(t testing.TB) map[string][]byte {
	relay := mustEncode(t, msgRelay, &relayHeader{DestAddr: net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7946}, DestName: "b"})
	relay = append(relay, mustEncode(t, msgQueryResponse, &queryResponseMessage{LTime: 3, ID: 9, From: "a"})...)
	return map[string][]byte{
		"join":  mustEncode(t, msgJoin, &joinMessage{LTime: 42, Node: "node-a"}),
		"leave": mustEncode(t, msgLeave, &leaveMessage{LTime: 43, Node: "node-b", Prune: true}),
		"pushpull": mustEncode(t, msgPushPull, &pushPullMessage{
			LTime: 7, StatusLTimes: map[string]LamportTime{"a": 1, "b": 2}, LeftMembers: []string{"b"},
			EventLTime: 3, Events: []*userEventBatch{nil, {LTime: 2, Events: []userEventRecord{{Name: "deploy", Payload: []byte("v1")}}}},
			QueryLTime: 4,
		}),
		"user":     mustEncode(t, msgUserEvent, &userEventMessage{LTime: 5, Name: "deploy", Payload: []byte("v42"), CC: true}),
		"query":    mustEncode(t, msgQuery, &queryMessage{LTime: 6, ID: 1, Addr: []byte{127, 0, 0, 1}, Port: 7946, SourceNode: "a", Filters: [][]byte{{0, 0x90}}, Flags: queryFlagAck, Timeout: time.Second, Name: "uptime"}),
		"response": mustEncode(t, msgQueryResponse, &queryResponseMessage{LTime: 6, ID: 1, From: "b", Flags: queryFlagAck, Payload: []byte("up")}),
		"relay":    relay,
	}
}

func TestDecodeMessageRoundTrip(t *testing.T) {
	msgs := validMessages(t)
	got, err := decodeMessage(msgs["join"])
	if err != nil || got.Join == nil || *got.Join != (joinMessage{LTime: 42, Node: "node-a"}) {
		t.Errorf("decode join = %+v, %v; want {42 node-a}", got.Join, err)
	}
	got, err = decodeMessage(msgs["leave"])
	if err != nil || got.Leave == nil || *got.Leave != (leaveMessage{LTime: 43, Node: "node-b", Prune: true}) {
		t.Errorf("decode leave = %+v, %v; want {43 node-b true}", got.Leave, err)
	}
	got, err = decodeMessage(msgs["pushpull"])
	if err != nil {
		t.Fatalf("decode pushpull: %v", err)
	}
	pp := got.PushPull
	if pp.LTime != 7 || pp.StatusLTimes["b"] != 2 || !reflect.DeepEqual(pp.LeftMembers, []string{"b"}) ||
		pp.EventLTime != 3 || pp.QueryLTime != 4 || len(pp.Events) != 2 || pp.Events[0] != nil ||
		string(pp.Events[1].Events[0].Payload) != "v1" {
		t.Errorf("decode pushpull = %+v; fields lost", pp)
	}
	got, err = decodeMessage(msgs["query"])
	if err != nil || got.Query.Timeout != time.Second || got.Query.Name != "uptime" || got.Query.Flags != queryFlagAck {
		t.Errorf("decode query = %+v, %v", got.Query, err)
	}
	got, err = decodeMessage(msgs["relay"])
	if err != nil || got.Relay.DestName != "b" || got.Relay.DestAddr.Port != 7946 || got.RelayPayload[0] != byte(msgQueryResponse) {
		t.Fatalf("decode relay = %+v, %v", got.Relay, err)
	}
	inner, err := decodeMessage(got.RelayPayload)
	if err != nil || inner.QueryResponse.From != "a" {
		t.Errorf("relayed payload = %+v, %v; want the wrapped response", inner.QueryResponse, err)
	}
}

// malformedMessages pairs hostile input with the sentinel it must produce.
func malformedMessages(t testing.TB) []struct {
	name string
	buf  []byte
	want error
} {
	join := mustEncode(t, msgJoin, &joinMessage{LTime: 42, Node: "node-a"})
	return []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrEmptyMessage},
		{"unknown type", []byte{200, 0x80}, ErrUnknownMessage},
		{"conflict type is not gossip", []byte{byte(msgConflictResponse), 0x80}, ErrUnknownMessage},
		{"type only", []byte{byte(msgJoin)}, ErrMalformedMessage},
		{"truncated", join[:len(join)-3], ErrMalformedMessage},
		{"garbage", []byte{byte(msgLeave), 0xc1, 0xff, 0x00}, ErrMalformedMessage},
		{"wrong field type", mustEncode(t, msgJoin, map[string]any{"LTime": "yesterday", "Node": 5}), ErrMalformedMessage},
		{"huge array header", []byte{byte(msgPushPull), 0x81, 0xab, 'L', 'e', 'f', 't', 'M', 'e', 'm', 'b', 'e', 'r', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, ErrMalformedMessage},
		{"oversized", append([]byte{byte(msgUserEvent)}, bytes.Repeat([]byte{0}, maxMessageSize)...), ErrMessageTooLarge},
		{"relay without payload", mustEncode(t, msgRelay, &relayHeader{DestName: "x"}), ErrMalformedMessage},
	}
}

func TestDecodeMessageRejectsMalformed(t *testing.T) {
	for _, tt := range malformedMessages(t) {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMessage(tt.buf)
			if !errors.Is(err, tt.want) {
				t.Errorf("decodeMessage(%s) error = %v; want %v", tt.name, err, tt.want)
			}
		})
	}
}

// TestNotifyMsgCountsDrops: malformed input reaching the delegate is dropped
// and counted, never a panic.
func TestNotifyMsgCountsDrops(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeName = "self"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &messageDelegate{n: n}
	bad := malformedMessages(t)
	for _, tt := range bad {
		d.NotifyMsg(tt.buf)
	}
	d.MergeRemoteState([]byte{byte(msgJoin), 0x80}, false)
	d.MergeRemoteState([]byte{0xff}, true)
	if got, want := n.Stats().MessagesDropped, uint64(len(bad)+2); got != want {
		t.Errorf("MessagesDropped = %d; want %d", got, want)
	}
	d.NotifyMsg(validMessages(t)["join"])
	if got := n.Stats().MessagesDropped; got != uint64(len(bad)+2) {
		t.Errorf("a valid message was counted as dropped (%d)", got)
	}
}

func TestTags(t *testing.T) {
	tags := map[string]string{"role": "web", "dc": "eu-1"}
	meta, err := EncodeTags(tags, 5)
	if err != nil || meta[0] != tagMagicByte {
		t.Fatalf("EncodeTags = %x, %v; want magic byte first", meta, err)
	}
	back, err := DecodeTags(meta)
	if err != nil || !reflect.DeepEqual(back, tags) {
		t.Errorf("DecodeTags(EncodeTags(%v)) = %v, %v", tags, back, err)
	}
	old, _ := EncodeTags(tags, 2)
	if string(old) != "web" {
		t.Errorf("EncodeTags(protocol 2) = %q; want the bare role", old)
	}
	if back, _ := DecodeTags(old); back["role"] != "web" || len(back) != 1 {
		t.Errorf("DecodeTags(role only) = %v; want role=web", back)
	}
	big := map[string]string{"k": string(bytes.Repeat([]byte("x"), MaxTagsSize))}
	if _, err := EncodeTags(big, 5); !errors.Is(err, ErrTagsTooLarge) {
		t.Errorf("EncodeTags(oversized) error = %v; want ErrTagsTooLarge", err)
	}
	if _, err := DecodeTags([]byte{tagMagicByte, 0x81, 0xc1}); err == nil {
		t.Errorf("DecodeTags(garbage) = nil error; want one")
	}
}
