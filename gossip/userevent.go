package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/agentd/agent/events"
	metrics "github.com/armon/go-metrics"
)

// MaxUserEventSizeLimit is the largest Config.UserEventSizeLimit (Serf's
// hard limit): a user event must fit in one gossip packet.
const MaxUserEventSizeLimit = 9 * 1024

// ErrUserEventTooLarge is wrapped by UserEvent's error for an event over
// Config.UserEventSizeLimit.
var ErrUserEventTooLarge = errors.New("user event too large")

// UserEvent fires a user event: it is delivered locally at once, sent
// straight to a few random members, and gossiped to the rest. Every member
// delivers it once. With coalesce, a burst of events of the same name may
// be delivered as only the latest one.
func (n *Node) UserEvent(name string, payload []byte, coalesce bool) error {
	if st := n.getState(); st != stateAlive {
		return fmt.Errorf("user event %q: %w", name, stateErr(st))
	}
	limit := n.cfg.UserEventSizeLimit
	if size := len(name) + len(payload); size > limit {
		return fmt.Errorf("%w: user event %q: name and payload are %d bytes, over the limit of %d (user_event_size_limit)",
			ErrUserEventTooLarge, name, size, limit)
	}
	msg := userEventMessage{LTime: n.eventClock.Time(), Name: name, Payload: payload, CC: coalesce}
	raw, err := encodeMessage(msgUserEvent, &msg)
	if err != nil {
		return fmt.Errorf("user event %q: %w", name, err)
	}
	if len(raw) > limit {
		return fmt.Errorf("%w: user event %q: encoded it is %d bytes, over the limit of %d (user_event_size_limit)",
			ErrUserEventTooLarge, name, len(raw), limit)
	}
	n.eventClock.Increment()
	n.handleUserEvent(msg, 0, raw)
	return nil
}

// handleUserEvent records a user event and, if it is new, passes raw (its
// encoding; nil: do not pass it on) to other members and then delivers it,
// so that the local handlers' start does not delay the next hops. minTime,
// if above the node's own minimum, refuses older events (a join replays
// only Serf's window).
func (n *Node) handleUserEvent(msg userEventMessage, minTime LamportTime, raw []byte) {
	before := n.eventClock.Time()
	n.eventClock.Witness(msg.LTime)
	n.evMu.Lock()
	rec := userEventRecord{Name: msg.Name, Payload: bytes.Clone(msg.Payload)}
	floor := max(n.evMin, minTime)
	res := n.evBuf.add(rec, msg.LTime, n.eventClock.Time(), floor, n.cfg.Now())
	// Every event this node has seen left its clock above that event's
	// time, and a node fires at its clock, so event times have no holes:
	// an event from the network above both the clock and the floor means
	// that events of the times between exist and have not arrived here
	// (yet: they may only be late).
	gap := raw != nil && msg.LTime > max(before, floor)
	if gap {
		if n.gapTo == 0 {
			n.gapFrom = max(before, floor)
		}
		n.gapFrom, n.gapTo = min(n.gapFrom, max(before, floor)), max(n.gapTo, msg.LTime)
	}
	n.evMu.Unlock()
	if gap {
		n.stats.eventGaps.Add(1)
		select {
		case n.eventGap <- struct{}{}:
		default:
		}
	}
	if res == addTooOld {
		n.stats.userEventsTooOld.Add(1)
		n.logger.Debug("dropping a user event too old to tell whether it is new", "event", msg.Name, "ltime", msg.LTime, "clock", n.eventClock.Time())
	}
	if res != addedNew {
		return
	}
	if raw != nil {
		n.spreadUserEvent(bytes.Clone(raw)) // raw may be memberlist's buffer
	}
	n.stats.userEvents.Add(1)
	metrics.IncrCounter([]string{"serf", "events"}, 1)
	metrics.IncrCounter([]string{"serf", "events", msg.Name}, 1)
	n.snapshotClocks()
	n.out.push(events.UserEvent{LTime: uint64(msg.LTime), Name: msg.Name, Payload: bytes.Clone(msg.Payload), Coalesce: msg.CC})
}

// spreadUserEvent passes an encoded user event on: straight to a few
// random members, so that it crosses the cluster in a few network hops,
// and into the gossip queue, which reaches the members those hops missed.
// Every member does this once per event, the first time it sees it.
func (n *Node) spreadUserEvent(raw []byte) {
	n.userEvents.QueueBroadcast(newBroadcast(raw, "", nil))
	n.sendDirect(raw, eventFanout(n.NumMembers()))
}

// eventFanout is how many random members each node sends a new event to
// directly in a cluster of members: ln(members) + 2, at least directFanout.
// With every node doing so once, a member is missed by all of them with
// probability about e^-fanout (0.1% for 100 members); gossip reaches those.
func eventFanout(members int) int {
	return max(directFanout, int(math.Ceil(math.Log(float64(max(members, 1)))))+2)
}

// eventsMissing says whether the events a gap showed missing are still
// missing, and forgets the gap if not.
func (n *Node) eventsMissing() bool {
	n.evMu.Lock()
	defer n.evMu.Unlock()
	if n.gapTo == 0 {
		return false
	}
	if n.evBuf.missing(max(n.gapFrom, n.evMin), n.gapTo) {
		return true
	}
	n.gapFrom, n.gapTo = 0, 0
	return false
}

// raiseEventMin refuses, from now on, user events older than lt.
func (n *Node) raiseEventMin(lt LamportTime) {
	n.evMu.Lock()
	n.evMin = max(n.evMin, lt)
	n.evMu.Unlock()
}

// eventBatches returns the user events a push/pull offers (see
// eventBuffer.batches).
func (n *Node) eventBatches() []*userEventBatch {
	now := n.eventClock.Time()
	since := n.cfg.Now().Add(-repairAge)
	n.evMu.Lock()
	defer n.evMu.Unlock()
	return n.evBuf.batches(now, since)
}
