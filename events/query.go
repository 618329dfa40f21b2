package events

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoResponder is returned by QueryEvent.Respond on a query that cannot be
// answered (one made up in a test, or already answered).
var ErrNoResponder = errors.New("query cannot be answered")

// QueryEvent is a question asked of the cluster (`agent query NAME PAYLOAD`);
// the handlers or RPC clients of each node that matches its filters may
// answer it once, before its deadline.
type QueryEvent struct {
	// LTime is the query's time on the cluster's query Lamport clock.
	LTime uint64
	// ID tells apart queries of the same LTime; RPC clients answer by it.
	ID      uint32
	Name    string
	Payload []byte
	// Deadline is when the asker stops listening.
	Deadline time.Time
	// Responder sends a response to the asker; the gossip layer sets it.
	Responder func(payload []byte) error
}

// EventType implements Event.
func (q *QueryEvent) EventType() Type { return Query }

// String implements Event.
func (q *QueryEvent) String() string {
	return fmt.Sprintf("query %q at %d (%d-byte payload)", q.Name, q.LTime, len(q.Payload))
}

// Respond answers the query.
func (q *QueryEvent) Respond(payload []byte) error {
	if q.Responder == nil {
		return ErrNoResponder
	}
	return q.Responder(payload)
}
