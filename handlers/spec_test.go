package handlers

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/agentd/agent/events"
)

var all = []Filter{{Event: AllEvents}}

// specCases are the valid specs; they also seed FuzzParseSpec.
var specCases = []struct {
	in   string
	want Spec
}{
	{"./handler.sh", Spec{all, "./handler.sh"}},
	{"*=./handler.sh", Spec{all, "./handler.sh"}},
	{"=./handler.sh", Spec{all, "./handler.sh"}},
	{" =./handler.sh", Spec{all, "./handler.sh"}},
	{"member-join=./join.sh", Spec{[]Filter{{Event: "member-join"}}, "./join.sh"}},
	{"member-join,member-leave,member-failed,member-update,member-reap=x", Spec{[]Filter{
		{Event: "member-join"}, {Event: "member-leave"}, {Event: "member-failed"}, {Event: "member-update"}, {Event: "member-reap"},
	}, "x"}},
	{"user=x", Spec{[]Filter{{Event: "user"}}, "x"}},
	{"user:deploy=./deploy.sh", Spec{[]Filter{{Event: "user", Name: "deploy"}}, "./deploy.sh"}},
	{"query:load,user:deploy=x", Spec{[]Filter{{Event: "query", Name: "load"}, {Event: "user", Name: "deploy"}}, "x"}},
	{"query=x", Spec{[]Filter{{Event: "query"}}, "x"}},
	{"user:=x", Spec{[]Filter{{Event: "user"}}, "x"}}, // as in Serf: every name
	{"query: =x", Spec{[]Filter{{Event: "query"}}, "x"}},
	{"user:a:b=x", Spec{[]Filter{{Event: "user", Name: "a:b"}}, "x"}},
	// Spaces around terms and names are ignored; the command is verbatim.
	{" member-join , user : deploy = ./x.sh ", Spec{[]Filter{{Event: "member-join"}, {Event: "user", Name: "deploy"}}, " ./x.sh "}},
	// Only the first "=" splits.
	{"*=env A=1 ./script", Spec{all, "env A=1 ./script"}},
	{"member-join==x", Spec{[]Filter{{Event: "member-join"}}, "=x"}},
	{"member-update,*=x", Spec{[]Filter{{Event: "member-update"}, {Event: "*"}}, "x"}},
	{"echo 'a\nb'", Spec{all, "echo 'a\nb'"}},
}

// badSpecs are invalid specs and a piece of the error each must give.
var badSpecs = []struct {
	in, want string
}{
	{"", "empty command"},
	{"   ", "empty command"},
	{"member-join=", "empty command"},
	{"user:deploy= \t", "empty command"},
	{"join=x", `unknown event type "join"; valid filters are *, member-join,`},
	{"Member-Join=x", `unknown event type "Member-Join"`},
	{"member-join,members-leave=x", `unknown event type "members-leave"`},
	{"env A=1 ./script", `unknown event type "env A";`},
	{"env A=1 ./script", `write "*=COMMAND"`},
	{"**=x", `unknown event type "**"`},
	{"foo:bar=x", `unknown event type "foo"`},
	{"member-join:web=x", `filter "member-join:web": only user and query filters take a name`},
	{"*:x=x", "only user and query filters take a name"},
	{"member-join,=x", "empty filter"},
	{",member-join=x", "empty filter"},
	{"member-join;member-leave=x", `unknown event type "member-join;member-leave"`},
}

func TestParseSpec(t *testing.T) {
	for _, tt := range specCases {
		got, err := ParseSpec(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range badSpecs {
		got, err := ParseSpec(tt.in)
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSpec(%q) = %#v, %v; want an error wrapping ErrInvalidSpec containing %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSpecString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"./handler.sh", "./handler.sh"},
		{"*=./handler.sh", "./handler.sh"},
		{"*=env A=1 ./script", "*=env A=1 ./script"},
		{"=a=b", "*=a=b"},
		{" member-join , user : deploy = ./x.sh", "member-join,user:deploy= ./x.sh"},
		{"query:load,user=x", "query:load,user=x"},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.in)
		if err != nil {
			t.Fatalf("ParseSpec(%q) = %v", tt.in, err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("ParseSpec(%q).String() = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSpecMatches(t *testing.T) {
	type ev struct {
		typ  events.Type
		name string
	}
	evs := []ev{
		{events.MemberJoin, ""}, {events.MemberLeave, ""}, {events.MemberFailed, ""}, {events.MemberUpdate, ""},
		{events.MemberReap, ""}, {events.User, "deploy"}, {events.User, "other"}, {events.Query, "load"},
		{events.Type(42), ""},
	}
	tests := []struct {
		spec string
		want []bool // per entry of evs
	}{
		{"x", []bool{true, true, true, true, true, true, true, true, true}},
		{"member-join=x", []bool{true, false, false, false, false, false, false, false, false}},
		{"member-leave,member-failed=x", []bool{false, true, true, false, false, false, false, false, false}},
		{"member-update,member-reap=x", []bool{false, false, false, true, true, false, false, false, false}},
		{"user=x", []bool{false, false, false, false, false, true, true, false, false}},
		{"user:deploy=x", []bool{false, false, false, false, false, true, false, false, false}},
		{"user:load=x", []bool{false, false, false, false, false, false, false, false, false}},
		{"query=x", []bool{false, false, false, false, false, false, false, true, false}},
		{"query:load,user:other=x", []bool{false, false, false, false, false, false, true, true, false}},
		{"query:deploy=x", []bool{false, false, false, false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseSpec(%q) = %v", tt.spec, err)
		}
		for i, e := range evs {
			if got := s.Matches(e.typ, e.name); got != tt.want[i] {
				t.Errorf("ParseSpec(%q).Matches(%v, %q) = %v; want %v", tt.spec, e.typ, e.name, got, tt.want[i])
			}
		}
	}
}

func TestFilterMatchesHandMade(t *testing.T) {
	tests := []struct {
		f    Filter
		typ  events.Type
		name string
		want bool
	}{
		{Filter{}, events.MemberJoin, "", false},
		{Filter{Event: "unknown(42)"}, events.Type(42), "", false},
		{Filter{Event: "member-join", Name: "x"}, events.MemberJoin, "", true}, // member events have no name
		{Filter{Event: "user", Name: "x"}, events.User, "", false},
		{Filter{Event: "*", Name: "x"}, events.Query, "y", true},
	}
	for _, tt := range tests {
		if got := tt.f.Matches(tt.typ, tt.name); got != tt.want {
			t.Errorf("%#v.Matches(%v, %q) = %v; want %v", tt.f, tt.typ, tt.name, got, tt.want)
		}
	}
	if (Spec{Command: "x"}).Matches(events.MemberJoin, "") {
		t.Errorf("Spec without filters matches member-join; want no match")
	}
}

// FuzzParseSpec: no spec may panic the parser; whatever parses obeys the
// documented shape and reads back unchanged from its String.
func FuzzParseSpec(f *testing.F) {
	for _, tt := range specCases {
		f.Add(tt.in)
	}
	for _, tt := range badSpecs {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ParseSpec(%q) = %v; want an error wrapping ErrInvalidSpec", in, err)
			}
			return
		}
		if len(s.Filters) == 0 || strings.TrimSpace(s.Command) == "" || !strings.HasSuffix(in, s.Command) {
			t.Fatalf("ParseSpec(%q) = %#v; want filters and a non-blank command taken verbatim from the end", in, s)
		}
		for _, flt := range s.Filters {
			typ, err := events.ParseType(flt.Event)
			switch {
			case flt.Event != AllEvents && err != nil:
				t.Fatalf("ParseSpec(%q) filter %#v: unknown event", in, flt)
			case flt.Name != "" && (flt.Event == AllEvents || (typ != events.User && typ != events.Query)):
				t.Fatalf("ParseSpec(%q) filter %#v: a name on an event that takes none", in, flt)
			case strings.ContainsAny(flt.Name, ",=") || strings.TrimSpace(flt.Name) != flt.Name:
				t.Fatalf("ParseSpec(%q) filter %#v: name holds a separator or surrounding space", in, flt)
			case !s.Matches(typ, flt.Name):
				t.Fatalf("ParseSpec(%q) = %#v does not match its own filter %#v", in, s, flt)
			}
		}
		again, err := ParseSpec(s.String())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("ParseSpec(%q) = %#v; its String %q parses to %#v, %v", in, s, s.String(), again, err)
		}
	})
}
