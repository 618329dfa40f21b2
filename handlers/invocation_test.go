package handlers

import (
	"net"
	"slices"
	"testing"

	"github.com/agentd/agent/events"
)

func TestNewInvocation(t *testing.T) {
	self := events.Member{Name: "web-1", Addr: net.ParseIP("10.0.0.1"), Port: 7946,
		Tags: map[string]string{"role": "web", "dc-name": "eu 1", "x.y": "z"}}
	common := []string{
		"SERF_SELF_NAME=web-1", "SERF_SELF_ROLE=web", "AGENT_SELF_ADDR=10.0.0.1:7946",
		"SERF_TAG_DC_NAME=eu 1", "SERF_TAG_ROLE=web", "SERF_TAG_X_Y=z",
	}
	tests := []struct {
		name      string
		event     events.Event
		wantEnv   []string
		wantStdin string
		wantName  string
	}{
		{
			"member join",
			events.MemberEvent{Type: events.MemberJoin, Members: []events.Member{
				{Name: "db-1", Addr: net.ParseIP("10.0.0.2"), Tags: map[string]string{"role": "db", "zone": "a"}},
				{Name: "odd\tname\n", Addr: net.ParseIP("10.0.0.3"), Tags: map[string]string{"note": "a\tb"}},
			}},
			[]string{"SERF_EVENT=member-join"},
			"db-1\t10.0.0.2\tdb\trole=db,zone=a\nodd\\tname\\n\t10.0.0.3\t\tnote=a\\tb\n",
			"",
		},
		{
			"user event",
			events.UserEvent{LTime: 42, Name: "deploy", Payload: []byte("v42")},
			[]string{"SERF_EVENT=user", "SERF_USER_EVENT=deploy", "SERF_USER_LTIME=42"},
			"v42\n", "deploy",
		},
		{
			"user event, payload ends in a newline",
			events.UserEvent{LTime: 1, Name: "x", Payload: []byte("a\n")},
			[]string{"SERF_EVENT=user", "SERF_USER_EVENT=x", "SERF_USER_LTIME=1"},
			"a\n", "x",
		},
		{
			"user event, no payload",
			events.UserEvent{LTime: 1, Name: "x"},
			[]string{"SERF_EVENT=user", "SERF_USER_EVENT=x", "SERF_USER_LTIME=1"},
			"", "x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, ok := newInvocation(self, tt.event)
			if !ok {
				t.Fatal("newInvocation refused the event")
			}
			for _, want := range append(tt.wantEnv, common...) {
				if !slices.Contains(inv.env, want) {
					t.Errorf("env lacks %q: %q", want, inv.env)
				}
			}
			if string(inv.stdin) != tt.wantStdin {
				t.Errorf("stdin = %q; want %q", inv.stdin, tt.wantStdin)
			}
			if inv.name != tt.wantName {
				t.Errorf("name = %q; want %q", inv.name, tt.wantName)
			}
		})
	}
}

func TestTagEnvName(t *testing.T) {
	for in, want := range map[string]string{"role": "SERF_TAG_ROLE", "dc-1": "SERF_TAG_DC_1", "a.b c": "SERF_TAG_A_B_C", "ünï": "SERF_TAG__N_"} {
		if got := TagEnvName(in); got != want {
			t.Errorf("TagEnvName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestPayloadLineDoesNotWriteThroughCallersSlice(t *testing.T) {
	buf := make([]byte, 3, 10)
	copy(buf, "abc")
	_ = payloadLine(buf)
	if got := buf[:4]; got[3] != 0 {
		t.Errorf("payloadLine wrote into the caller's spare capacity: %q", got)
	}
}
