package rpc

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentd/agent/events"
)

// FuzzParseEventFilter: no stream filter from a client may panic the
// parser; it fails only with ErrInvalidFilter, and every term it accepts
// matches the event it names.
func FuzzParseEventFilter(f *testing.F) {
	for _, s := range []string{
		"", "*", "member-join", "member-join,member-leave", " member-failed , member-reap ", "member-update,*",
		"user", "user:deploy", "user:", "query", "query:ping,user:other", "user:a:b",
		"member", "member-join,", "members-join", "USER", "user-deploy", "**", ",", "member-join;member-leave",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		filter, err := parseEventFilter(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("parseEventFilter(%q) = %v; want %v", s, err, ErrInvalidFilter)
			}
			return
		}
		wantTerms := strings.Count(s, ",") + 1
		if strings.TrimSpace(s) == "" {
			wantTerms = 1
		}
		if len(filter) != wantTerms {
			t.Fatalf("parseEventFilter(%q) has %d terms; want %d", s, len(filter), wantTerms)
		}
		for _, term := range filter {
			if !term.all && strings.HasPrefix(term.typ.String(), "unknown") {
				t.Fatalf("parseEventFilter(%q) term %+v: unknown event type", s, term)
			}
			if !filter.match(term.typ, term.name) {
				t.Fatalf("parseEventFilter(%q) does not match its own term %+v", s, term)
			}
			if term.all && !filter.match(events.Query, "any") {
				t.Fatalf("parseEventFilter(%q) has * but does not match a query", s)
			}
		}
	})
}

// FuzzCompileMemberFilter: no members-filtered pattern may panic the
// compiler; it fails only with ErrInvalidRegex and only when a pattern does
// not compile, anchoring only ever narrows a pattern, and a quoted
// non-empty literal name matches exactly that name.
func FuzzCompileMemberFilter(f *testing.F) {
	f.Add("role", "web", "alive", "web-1", "web-1")
	f.Add("role", "x|web", "a.*|failed", "web", "web")
	f.Add("dc", "", "", "", "")
	f.Add("role", "(", "[a", "*x", "x")
	f.Add("", "", "", "x)|(.*", "x")
	f.Add("t", "a{1001}", "(?i)ALIVE", `\Qa.b\E`, "a.b")
	f.Fuzz(func(t *testing.T, tag, tagExpr, status, name, member string) {
		req := membersFilteredRequest{Tags: map[string]string{tag: tagExpr}, Status: status, Name: name}
		compiles := true
		for _, expr := range []string{tagExpr, status, name} {
			if _, err := regexp.Compile(expr); err != nil {
				compiles = false
			}
		}
		mf, err := compileMemberFilter(req)
		if err != nil {
			if compiles || !errors.Is(classifyError(errText(err)), ErrInvalidRegex) {
				t.Fatalf("compileMemberFilter(%+v) = %v; want %v, and only for a pattern that does not compile", req, err, ErrInvalidRegex)
			}
			return
		}
		if !compiles {
			t.Fatalf("compileMemberFilter(%+v) = nil error; want %v", req, ErrInvalidRegex)
		}
		m := events.Member{Name: member, Status: events.StatusAlive, Tags: map[string]string{tag: member}}
		if mf.match(m) && !regexp.MustCompile(name).MatchString(member) {
			t.Fatalf("compileMemberFilter(%+v) matches name %q, which %q alone does not", req, member, name)
		}
		if member == "" || !utf8.ValidString(member) {
			return // an empty pattern matches any name; invalid UTF-8 does not compile
		}
		literal, err := compileMemberFilter(membersFilteredRequest{Name: regexp.QuoteMeta(member)})
		if err != nil {
			t.Fatalf("compileMemberFilter(Name: QuoteMeta(%q)) = %v", member, err)
		}
		if !literal.match(m) || literal.match(events.Member{Name: member + "x"}) || literal.match(events.Member{Name: "x" + member}) {
			t.Fatalf("compileMemberFilter(Name: QuoteMeta(%q)) does not match exactly %q", member, member)
		}
	})
}
