package rpc

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/agentd/agent/events"
)

func TestParseEventFilter(t *testing.T) {
	type ev struct {
		typ  events.Type
		name string
	}
	all := []ev{
		{events.MemberJoin, ""}, {events.MemberLeave, ""}, {events.MemberFailed, ""}, {events.MemberUpdate, ""},
		{events.MemberReap, ""}, {events.User, "deploy"}, {events.User, "other"}, {events.Query, "ping"},
	}
	tests := []struct {
		filter string
		want   []bool // per entry of all
	}{
		{"", []bool{true, true, true, true, true, true, true, true}},
		{"*", []bool{true, true, true, true, true, true, true, true}},
		{"member-join", []bool{true, false, false, false, false, false, false, false}},
		{"member-join,member-leave", []bool{true, true, false, false, false, false, false, false}},
		{" member-failed , member-reap ", []bool{false, false, true, false, true, false, false, false}},
		{"member-update,*", []bool{true, true, true, true, true, true, true, true}},
		{"user", []bool{false, false, false, false, false, true, true, false}},
		{"user:deploy", []bool{false, false, false, false, false, true, false, false}},
		{"user:", []bool{false, false, false, false, false, true, true, false}},
		{"query", []bool{false, false, false, false, false, false, false, true}},
		{"query:ping,user:other", []bool{false, false, false, false, false, false, true, true}},
		{"query:pong", []bool{false, false, false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		f, err := parseEventFilter(tt.filter)
		if err != nil {
			t.Errorf("parseEventFilter(%q) = %v; want nil", tt.filter, err)
			continue
		}
		for i, e := range all {
			if got := f.match(e.typ, e.name); got != tt.want[i] {
				t.Errorf("parseEventFilter(%q).match(%v, %q) = %v; want %v", tt.filter, e.typ, e.name, got, tt.want[i])
			}
		}
	}
	for _, bad := range []string{"member", "member-join,", "members-join", "USER", "user-deploy", "**", ",", "member-join;member-leave"} {
		if _, err := parseEventFilter(bad); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("parseEventFilter(%q) = %v; want %v", bad, err, ErrInvalidFilter)
		}
	}
}

func TestMemberFilter(t *testing.T) {
	web := events.Member{Name: "web-1", Status: events.StatusAlive, Tags: map[string]string{"role": "web", "dc": "east"}}
	webserver := events.Member{Name: "web-2", Status: events.StatusFailed, Tags: map[string]string{"role": "webserver"}}
	tests := []struct {
		req  membersFilteredRequest
		want [2]bool // web, webserver
	}{
		{membersFilteredRequest{}, [2]bool{true, true}},
		{membersFilteredRequest{Tags: map[string]string{"role": "web"}}, [2]bool{true, false}},
		{membersFilteredRequest{Tags: map[string]string{"role": "web.*"}}, [2]bool{true, true}},
		{membersFilteredRequest{Tags: map[string]string{"role": "eb"}}, [2]bool{false, false}},
		{membersFilteredRequest{Tags: map[string]string{"role": "x|web"}}, [2]bool{true, false}},
		{membersFilteredRequest{Tags: map[string]string{"dc": ""}}, [2]bool{false, true}},
		{membersFilteredRequest{Tags: map[string]string{"dc": "east", "role": "web"}}, [2]bool{true, false}},
		{membersFilteredRequest{Status: "alive"}, [2]bool{true, false}},
		{membersFilteredRequest{Status: "a.*|failed"}, [2]bool{true, true}},
		{membersFilteredRequest{Status: "live"}, [2]bool{false, false}},
		{membersFilteredRequest{Name: "web-2"}, [2]bool{false, true}},
		{membersFilteredRequest{Name: "web"}, [2]bool{false, false}},
	}
	for _, tt := range tests {
		f, err := compileMemberFilter(tt.req)
		if err != nil {
			t.Errorf("compileMemberFilter(%+v) = %v; want nil", tt.req, err)
			continue
		}
		if got := [2]bool{f.match(web), f.match(webserver)}; got != tt.want {
			t.Errorf("compileMemberFilter(%+v) matches (web, webserver) = %v; want %v", tt.req, got, tt.want)
		}
	}
	for _, bad := range []membersFilteredRequest{
		{Tags: map[string]string{"role": "("}},
		{Status: "[a"},
		{Name: "*x"},
		// A pattern must not escape the anchoring group.
		{Name: "x)|(.*"},
	} {
		if _, err := compileMemberFilter(bad); !errors.Is(classifyError(errText(err)), ErrInvalidRegex) {
			t.Errorf("compileMemberFilter(%+v) = %v; want %v", bad, err, ErrInvalidRegex)
		}
	}
}

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"TRACE", LevelTrace, true}, {"debug", slog.LevelDebug, true}, {"Info", slog.LevelInfo, true},
		{"WARN", slog.LevelWarn, true}, {"warning", slog.LevelWarn, true}, {"ERR", slog.LevelError, true},
		{"error", slog.LevelError, true}, {"", 0, false}, {"FATAL", 0, false}, {"INFO ", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseLogLevel(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseLogLevel(%q) = (%v, %v); want (%v, %v)", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
