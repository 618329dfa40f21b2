package handlers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agentd/agent/events"
)

// ErrInvalidSpec is wrapped by every error ParseSpec returns.
var ErrInvalidSpec = errors.New("invalid event handler")

// AllEvents is the Filter.Event that matches every event.
const AllEvents = "*"

// Filter selects the events a handler runs for.
type Filter struct {
	// Event is an event type as events.Type.String spells it
	// ("member-join", "user", "query", ...) or AllEvents.
	Event string
	// Name limits a "user" filter to user events and a "query" filter to
	// queries of that name. "" matches any name. Other events have no name
	// and ignore it.
	Name string
}

// Matches reports whether an event of type typ passes the filter. name is
// the user event's or query's name; member events ignore it.
func (f Filter) Matches(typ events.Type, name string) bool {
	if f.Event == AllEvents {
		return true
	}
	t, err := events.ParseType(f.Event)
	if err != nil || t != typ {
		return false
	}
	if typ != events.User && typ != events.Query {
		return true
	}
	return f.Name == "" || f.Name == name
}

// String writes the filter as ParseSpec reads it ("user:deploy").
func (f Filter) String() string {
	if f.Name == "" {
		return f.Event
	}
	return f.Event + ":" + f.Name
}

// Spec is one parsed event handler: a command and the events it runs for.
type Spec struct {
	// Filters lists the events the command runs for; an event matching any
	// of them runs it. ParseSpec always returns at least one. A Spec with
	// no filters matches nothing.
	Filters []Filter
	// Command is the shell command, verbatim from the spec; it may
	// contain "=". ParseSpec never returns an empty or blank one.
	Command string
}

// Matches reports whether the handler runs for an event of type typ (name:
// the user event's or query's name, "" for member events).
func (s Spec) Matches(typ events.Type, name string) bool {
	for _, f := range s.Filters {
		if f.Matches(typ, name) {
			return true
		}
	}
	return false
}

// String writes the spec so that ParseSpec reads it back unchanged: the
// bare command when it runs for every event and holds no "=", otherwise
// "filter,...=command".
func (s Spec) String() string {
	if len(s.Filters) == 1 && s.Filters[0] == (Filter{Event: AllEvents}) && !strings.Contains(s.Command, "=") {
		return s.Command
	}
	terms := make([]string, len(s.Filters))
	for i, f := range s.Filters {
		terms[i] = f.String()
	}
	return strings.Join(terms, ",") + "=" + s.Command
}

// ParseSpec parses an event handler spec, Serf's syntax:
//
//	[filter[,filter...]=]command
//
// where a filter is "*" (every event), an event type (member-join,
// member-leave, member-failed, member-update, member-reap, user, query),
// "user:NAME" or "query:NAME". Without "=" (or with nothing before it) the
// handler runs for every event.
//
// As in Serf, the spec is split at its first "=": what comes before is
// always the filter list, what comes after is the command, verbatim, and
// may hold more "=". So a command that contains "=" needs an explicit
// filter: "*=env A=1 ./script", not "env A=1 ./script" (where "env A"
// would be taken for an event type, an error).
//
// Where we differ from Serf: spaces around filters, event types and names
// are ignored, and an empty or blank command is an error, where Serf
// accepts it and runs nothing. As in Serf, an empty name ("user:") means
// every name. Every error wraps ErrInvalidSpec and says what is wrong.
func ParseSpec(s string) (Spec, error) {
	list, command, hasFilters := strings.Cut(s, "=")
	if !hasFilters {
		list, command = "", s
	}
	filters, err := parseFilters(list)
	if err != nil {
		return Spec{}, fmt.Errorf("%w %q: %w", ErrInvalidSpec, s, err)
	}
	if strings.TrimSpace(command) == "" {
		return Spec{}, fmt.Errorf("%w %q: empty command", ErrInvalidSpec, s)
	}
	return Spec{Filters: filters, Command: command}, nil
}

// validFilters lists the filter forms for error messages.
const validFilters = "*, member-join, member-leave, member-failed, member-update, member-reap, user, user:NAME, query, query:NAME"

// parseFilters parses a comma-separated filter list; a blank list is "*".
func parseFilters(list string) ([]Filter, error) {
	if strings.TrimSpace(list) == "" {
		return []Filter{{Event: AllEvents}}, nil
	}
	var filters []Filter
	for term := range strings.SplitSeq(list, ",") {
		f, err := parseFilter(strings.TrimSpace(term))
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	return filters, nil
}

// parseFilter parses one trimmed filter term.
func parseFilter(term string) (Filter, error) {
	if term == "" {
		return Filter{}, errors.New("empty filter in the list")
	}
	event, name, hasName := strings.Cut(term, ":")
	event, name = strings.TrimSpace(event), strings.TrimSpace(name)
	if event != AllEvents {
		if _, err := events.ParseType(event); err != nil {
			// Only text before an "=" is read as filters: the likely
			// mistake is a command containing "=" without a filter.
			return Filter{}, fmt.Errorf("unknown event type %q; valid filters are %s "+
				"(the text before the first \"=\" is the filter list; for a command containing \"=\" write \"*=COMMAND\")",
				event, validFilters)
		}
	}
	if !hasName {
		return Filter{Event: event}, nil
	}
	if event != events.User.String() && event != events.Query.String() {
		return Filter{}, fmt.Errorf("filter %q: only user and query filters take a name", term)
	}
	return Filter{Event: event, Name: name}, nil
}
