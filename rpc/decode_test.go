package rpc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

// requestCases are valid requests for every command, as Serf's client
// sends them. They seed FuzzRequestDecoder.
var requestCases = []struct {
	cmd  string
	body any // nil for none
}{
	{cmdHandshake, &handshakeRequest{Version: 1}},
	{cmdAuth, &authRequest{AuthKey: "secret"}},
	{cmdEvent, &eventRequest{Name: "deploy", Payload: []byte("v1.2"), Coalesce: true}},
	{cmdForceLeave, &forceLeaveRequest{Node: "node-b", Prune: true}},
	{cmdJoin, &joinRequest{Existing: []string{"10.0.0.1:7946", "10.0.0.2"}, Replay: true}},
	{cmdMembers, nil},
	{cmdMembersFiltered, &membersFilteredRequest{Tags: map[string]string{"role": "web.*"}, Status: "alive", Name: "node-[0-9]+"}},
	{cmdStream, &streamRequest{Type: "member-join,user:deploy"}},
	{cmdStop, &stopRequest{Stop: 42}},
	{cmdMonitor, &monitorRequest{LogLevel: "DEBUG"}},
	{cmdLeave, nil},
	{cmdInstallKey, &keyRequest{Key: "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="}},
	{cmdUseKey, &keyRequest{Key: "k"}},
	{cmdRemoveKey, &keyRequest{Key: "k"}},
	{cmdListKeys, nil},
	{cmdTags, &tagsRequest{Tags: map[string]string{"role": "db"}, DeleteTags: []string{"old"}}},
	{cmdQuery, &queryRequest{FilterNodes: []string{"a"}, FilterTags: map[string]string{"r": "w"}, RequestAck: true,
		RelayFactor: 2, Timeout: 3 * time.Second, Name: "ping", Payload: []byte{0, 1}}},
	{cmdRespond, &respondRequest{ID: 7, Payload: []byte("pong")}},
	{cmdStats, nil},
	{cmdGetCoordinate, &coordinateRequest{Node: "node-a"}},
}

func encodeRequest(t testing.TB, seq uint64, cmd string, body any) []byte {
	t.Helper()
	vs := []any{&requestHeader{Command: cmd, Seq: seq}}
	if body != nil {
		vs = append(vs, body)
	}
	return encode(t, vs...)
}

func TestRequestDecoder(t *testing.T) {
	var stream []byte
	for i, c := range requestCases {
		stream = append(stream, encodeRequest(t, uint64(i+1), c.cmd, c.body)...)
	}
	d := newRequestDecoder(bufio.NewReader(bytes.NewReader(stream)))
	for i, c := range requestCases {
		req, err := d.next()
		if err != nil {
			t.Fatalf("next() #%d (%s) = %v; want nil", i, c.cmd, err)
		}
		if req.seq != uint64(i+1) || req.name != c.cmd || !req.known {
			t.Errorf("next() #%d = seq %d, %q, known %v; want %d, %q, true", i, req.seq, req.name, req.known, i+1, c.cmd)
		}
		if c.body == nil && req.body != nil || c.body != nil && !reflect.DeepEqual(req.body, c.body) {
			t.Errorf("next() #%d (%s) body = %#v; want %#v", i, c.cmd, req.body, c.body)
		}
	}
	if _, err := d.next(); err != io.EOF {
		t.Errorf("next() at the end = %v; want io.EOF", err)
	}
}

func TestRequestDecoderErrors(t *testing.T) {
	header := func(cmd string) []byte { return encode(t, &requestHeader{Command: cmd, Seq: 5}) }
	tests := []struct {
		name    string
		in      []byte
		want    error // io error, or nil for *malformedError
		wantSeq uint64
	}{
		{"header cut", header("join")[:4], io.ErrUnexpectedEOF, 0},
		{"body missing", header("join"), io.ErrUnexpectedEOF, 0},
		{"body cut", append(header("join"), encode(t, &joinRequest{Existing: []string{"abc"}})[:6]...), io.ErrUnexpectedEOF, 0},
		{"header is a number", encode(t, 5), nil, 0},
		{"header is a string", encode(t, "members"), nil, 0},
		{"body is a string", append(header("join"), encode(t, "x")...), nil, 5},
		{"body field wrong type", append(header("stop"), encode(t, map[string]any{"Stop": "x"})...), nil, 5},
		{"invalid byte in body", append(header("tags"), 0xc1), nil, 5},
		{"body too large", append(header("event"), 0xc6, 0x7f, 0xff, 0xff, 0xff), nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newRequestDecoder(bufio.NewReader(bytes.NewReader(tt.in))).next()
			var bad *malformedError
			switch {
			case tt.want != nil:
				if !errors.Is(err, tt.want) || errors.As(err, &bad) {
					t.Errorf("next() = %v; want %v", err, tt.want)
				}
			case !errors.As(err, &bad):
				t.Errorf("next() = %v; want a *malformedError", err)
			case bad.seq != tt.wantSeq:
				t.Errorf("next() error seq = %d; want %d", bad.seq, tt.wantSeq)
			}
		})
	}
	// An unknown command yields its header only: the caller must stop.
	in := append(header("frobnicate"), encode(t, map[string]any{"X": 1})...)
	req, err := newRequestDecoder(bufio.NewReader(bytes.NewReader(in))).next()
	if err != nil || req.known || req.name != "frobnicate" || req.body != nil {
		t.Errorf("next() for an unknown command = (%+v, %v); want header only", req, err)
	}
}

// FuzzRequestDecoder decodes arbitrary bytes as a stream of requests. It
// must not panic, must fail only with the documented errors, and what it
// decodes must survive a round trip.
func FuzzRequestDecoder(f *testing.F) {
	for i, c := range requestCases {
		f.Add(encodeRequest(f, uint64(i), c.cmd, c.body))
	}
	f.Add(append(encodeRequest(f, 1, cmdHandshake, &handshakeRequest{Version: 1}), encodeRequest(f, 2, cmdMembers, nil)...))
	f.Add(encode(f, map[string]any{"Command": "handshake", "Seq": 1, "Extra": []int{1}}, map[string]any{"Version": 1}))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := newRequestDecoder(bufio.NewReader(bytes.NewReader(in)))
		for {
			req, err := d.next()
			if err != nil {
				var bad *malformedError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &bad) {
					t.Fatalf("next() = %v (%T); want io.EOF, io.ErrUnexpectedEOF or *malformedError", err, err)
				}
				return
			}
			if !req.known {
				return // the server stops reading here
			}
			if (req.cmd.newRequest == nil) != (req.body == nil) {
				t.Fatalf("next() for %q: body %#v does not fit the command", req.name, req.body)
			}
			again, err := newRequestDecoder(bufio.NewReader(bytes.NewReader(encodeRequest(t, req.seq, req.name, req.body)))).next()
			if err != nil || again.seq != req.seq || again.name != req.name || !reflect.DeepEqual(again.body, req.body) {
				t.Fatalf("round trip of %q %#v = (%q %#v, %v)", req.name, req.body, again.name, again.body, err)
			}
		}
	})
}
