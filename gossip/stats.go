package gossip

import (
	"sync/atomic"

	"github.com/agentd/agent/events"
)

// counters are the node's running totals.
type counters struct {
	received     atomic.Uint64
	dropped      atomic.Uint64
	unhandled    atomic.Uint64
	conflicts    atomic.Uint64
	queueDropped atomic.Uint64
	userEvents   atomic.Uint64 // new user events delivered
	// userEventsTooOld counts user events refused for being older than
	// the dedup buffer's window.
	userEventsTooOld atomic.Uint64
	// coordsRejected counts coordinates from peers that were undecodable,
	// not finite, or refused by the Vivaldi client.
	coordsRejected atomic.Uint64
	// repairs counts the extra push/pulls after membership changes.
	repairs atomic.Uint64
	// eventGaps counts user events that showed earlier ones missed;
	// eventGapRepairs the push/pulls made for them.
	eventGaps, eventGapRepairs atomic.Uint64
	// queryResends counts queries sent again to members that had not
	// acknowledged them.
	queryResends atomic.Uint64
}

// Stats is a point-in-time view of a node's health.
type Stats struct {
	// Members counts members by status.
	Members map[events.MemberStatus]int
	// MemberTime, EventTime and QueryTime are the Lamport clocks.
	MemberTime, EventTime, QueryTime LamportTime
	// MessagesReceived counts gossip messages delivered to us.
	MessagesReceived uint64
	// MessagesDropped counts malformed input dropped: undecodable, truncated,
	// oversized or of an unknown type (gossip messages, push/pull, tags).
	MessagesDropped uint64
	// MessagesUnhandled counts well-formed messages of kinds this layer
	// does not act on.
	MessagesUnhandled uint64
	// IntentQueue is the number of intent broadcasts waiting to be sent.
	IntentQueue int
	// UserEventQueue is the number of user-event broadcasts waiting;
	// QueryQueue the number of query broadcasts.
	UserEventQueue, QueryQueue int
	// UserEvents counts distinct user events delivered (duplicates and
	// events refused as too old are not counted).
	UserEvents uint64
	// UserEventsTooOld counts user events that arrived more than the dedup
	// buffer's window (8,192 event-clock ticks) late and were dropped, since nobody
	// can tell whether they were already delivered.
	UserEventsTooOld uint64
	// IntentsDropped counts broadcasts pruned from an over-full queue.
	IntentsDropped uint64
	// EventsDropped counts events dropped because the consumer fell behind.
	EventsDropped uint64
	// Flaps counts failed members that came back within FlapTimeout.
	Flaps int
	// NameConflicts counts memberlist's reports of two nodes with one name.
	NameConflicts uint64
	// HealthScore is memberlist's awareness score (0 is healthy).
	HealthScore int
	// CoordinatesRejected counts peers' coordinates dropped (undecodable,
	// not finite, incompatible); CoordinateResets counts resets of our own.
	CoordinatesRejected uint64
	CoordinateResets    int
	// RepairPushPulls counts the extra push/pull exchanges made after
	// membership changes and for missed user events.
	RepairPushPulls uint64
	// EventGaps counts user events whose time showed that earlier events
	// had not arrived; EventGapPushPulls the push/pulls made to fetch
	// them (at most one a RepairInterval, included in RepairPushPulls).
	EventGaps, EventGapPushPulls uint64
	// QueryResends counts queries this node asked with acks and sent again
	// straight to an expected member that had not acknowledged them.
	QueryResends uint64
}

// Stats returns the node's current figures.
func (n *Node) Stats() Stats {
	s := Stats{
		MessagesReceived:  n.stats.received.Load(),
		MessagesDropped:   n.stats.dropped.Load(),
		MessagesUnhandled: n.stats.unhandled.Load(),
		IntentQueue:       n.intents.NumQueued(),
		UserEventQueue:    n.userEvents.NumQueued(),
		QueryQueue:        n.queries.NumQueued(),
		UserEvents:        n.stats.userEvents.Load(),
		UserEventsTooOld:  n.stats.userEventsTooOld.Load(),
		IntentsDropped:    n.stats.queueDropped.Load(),
		EventsDropped:     n.out.dropped.Load(),
		NameConflicts:     n.stats.conflicts.Load(),

		CoordinatesRejected: n.stats.coordsRejected.Load(),
		RepairPushPulls:     n.stats.repairs.Load(),
		EventGaps:           n.stats.eventGaps.Load(),
		EventGapPushPulls:   n.stats.eventGapRepairs.Load(),
		QueryResends:        n.stats.queryResends.Load(),
	}
	if n.coords != nil {
		s.CoordinateResets = n.coords.Resets()
	}
	s.MemberTime, s.EventTime, s.QueryTime = n.Clocks()
	n.mu.Lock()
	s.Members = n.table.counts()
	s.Flaps = n.table.flaps
	n.mu.Unlock()
	if ml := n.mlist.Load(); ml != nil {
		s.HealthScore = ml.GetHealthScore()
	}
	return s
}
