package rpc

import (
	"regexp"
	"strings"

	"github.com/agentd/agent/events"
)

// eventFilter is a parsed stream filter: an event passes if any term
// matches it.
type eventFilter []filterTerm

// filterTerm matches one event type, or every type ("*"), optionally only
// the user events or queries with a given name.
type filterTerm struct {
	all  bool
	typ  events.Type
	name string // "" matches any name
}

// parseEventFilter parses Serf's stream filter syntax: a comma-separated
// list of event types (member-join, member-leave, member-failed,
// member-update, member-reap, user, query), "user:NAME", "query:NAME" or
// "*". An empty filter means "*". Unlike Serf, spaces around the terms are
// ignored. Any other term is ErrInvalidFilter.
func parseEventFilter(s string) (eventFilter, error) {
	if strings.TrimSpace(s) == "" {
		s = "*"
	}
	var f eventFilter
	for term := range strings.SplitSeq(s, ",") {
		term = strings.TrimSpace(term)
		var t filterTerm
		switch {
		case term == "*":
			t.all = true
		case strings.HasPrefix(term, "user:"):
			t.typ, t.name = events.User, term[len("user:"):]
		case strings.HasPrefix(term, "query:"):
			t.typ, t.name = events.Query, term[len("query:"):]
		default:
			typ, err := events.ParseType(term)
			if err != nil {
				return nil, ErrInvalidFilter
			}
			t.typ = typ
		}
		f = append(f, t)
	}
	return f, nil
}

// match reports whether an event of type typ and name (the user event's or
// query's name; "" for member events) passes the filter.
func (f eventFilter) match(typ events.Type, name string) bool {
	for _, t := range f {
		if t.all || (t.typ == typ && (t.name == "" || t.name == name)) {
			return true
		}
	}
	return false
}

// memberFilter selects members for members-filtered. The zero value
// matches every member.
type memberFilter struct {
	tags   map[string]*regexp.Regexp
	status *regexp.Regexp // nil: any
	name   *regexp.Regexp // nil: any
}

// compileMemberFilter compiles the request's patterns. Each is anchored at
// both ends as a whole, "^(?:PATTERN)$": "web" does not match "webserver",
// and "a|b" matches only "a" or "b". (Serf writes "^PATTERN$", which
// anchors only the first and last alternative.) A tag pattern is matched
// against the member's value for that tag, "" if it has none; an empty
// status or name pattern matches everything. A pattern that does not
// compile gives an error wrapping ErrInvalidRegex.
func compileMemberFilter(r membersFilteredRequest) (memberFilter, error) {
	var f memberFilter
	var err error
	if len(r.Tags) > 0 {
		f.tags = make(map[string]*regexp.Regexp, len(r.Tags))
		for tag, expr := range r.Tags {
			if f.tags[tag], err = compileAnchored(expr); err != nil {
				return memberFilter{}, err
			}
		}
	}
	if r.Status != "" {
		if f.status, err = compileAnchored(r.Status); err != nil {
			return memberFilter{}, err
		}
	}
	if r.Name != "" {
		if f.name, err = compileAnchored(r.Name); err != nil {
			return memberFilter{}, err
		}
	}
	return f, nil
}

// compileAnchored compiles "^(?:expr)$". expr is compiled on its own
// first: only a balanced expr cannot break out of the group.
func compileAnchored(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, wireError(withDetail(ErrInvalidRegex, err.Error()))
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, wireError(withDetail(ErrInvalidRegex, err.Error()))
	}
	return re, nil
}

// match reports whether m passes every pattern of f.
func (f memberFilter) match(m events.Member) bool {
	for tag, re := range f.tags {
		if !re.MatchString(m.Tags[tag]) {
			return false
		}
	}
	if f.status != nil && !f.status.MatchString(m.Status.String()) {
		return false
	}
	return f.name == nil || f.name.MatchString(m.Name)
}
