package events

import "fmt"

// UserEvent is a custom event fired on some node (`agent event NAME
// PAYLOAD`) and spread to every member.
type UserEvent struct {
	// LTime is the event's time on the cluster's event Lamport clock.
	LTime uint64
	Name  string
	// Payload is opaque to the agent; handlers read it on stdin.
	Payload []byte
	// Coalesce allows a burst of events of the same name to be delivered
	// as only the latest one.
	Coalesce bool
}

// EventType implements Event.
func (e UserEvent) EventType() Type { return User }

// String implements Event.
func (e UserEvent) String() string {
	return fmt.Sprintf("user event %q at %d (%d-byte payload)", e.Name, e.LTime, len(e.Payload))
}
