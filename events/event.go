package events

import "fmt"

// Type names a kind of event. The numeric values match Serf's EventType.
type Type int

// Event types, in Serf's numbering.
const (
	MemberJoin Type = iota
	MemberLeave
	MemberFailed
	MemberUpdate
	MemberReap
	User
	Query
)

var typeNames = [...]string{
	MemberJoin:   "member-join",
	MemberLeave:  "member-leave",
	MemberFailed: "member-failed",
	MemberUpdate: "member-update",
	MemberReap:   "member-reap",
	User:         "user",
	Query:        "query",
}

// String returns the name handler filters and RPC streams use ("member-join").
func (t Type) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("unknown(%d)", int(t))
}

// ParseType is the inverse of Type.String.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("unknown event type %q", s)
}

// IsMember reports whether t is one of the member-* types.
func (t Type) IsMember() bool { return t >= MemberJoin && t <= MemberReap }

// Event is anything the gossip layer reports to the agent.
type Event interface {
	// EventType returns the kind of event.
	EventType() Type
	// String describes the event for logs.
	String() string
}

// MemberEvent reports that the given members joined, left, failed, changed
// tags or were reaped. Members hold the state after the change.
type MemberEvent struct {
	Type    Type
	Members []Member
}

// EventType implements Event.
func (e MemberEvent) EventType() Type { return e.Type }

// String implements Event.
func (e MemberEvent) String() string {
	return fmt.Sprintf("%s: %d member(s)", e.Type, len(e.Members))
}
