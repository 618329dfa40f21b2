package gossip

import (
	"bytes"
	"maps"
	"slices"
	"time"
)

// User-event dedup and repair windows.
//
// Serf remembers the events of the last 512 event-clock ticks, and a
// push/pull carries them: that is how `join --replay` replays recent
// events, and the only repair for a node that gossip missed. In a burst of
// more than 512 events between two push/pulls (30 s apart on 20 nodes) a
// missed event is then never repaired. We remember eventWindow ticks and
// offer, in every push/pull, the last replayWindow ticks (Serf's, for
// replay and Serf peers) plus every event that arrived within repairAge,
// so a missed event reaches its node at the latest with a push/pull.
const (
	// replayWindow is Serf's buffer length: a join with replay accepts
	// events at most this many ticks older than the peer's clock.
	replayWindow = 512
	// eventWindow is how many ticks back an event is still recognised as
	// a duplicate; an older one is refused.
	eventWindow = 8192
	// repairAge is how long an event is offered in push/pulls, enough for
	// several rounds even at memberlist's slowest push/pull scaling.
	repairAge = 10 * time.Minute
)

// storedBatch is the events of one event-clock time and when the first
// of them arrived here.
type storedBatch struct {
	events  []userEventRecord
	arrived time.Time
}

// eventBuffer remembers the user events seen per event-clock time within
// eventWindow. It is pure: the caller locks and passes the times.
type eventBuffer struct {
	byTime map[LamportTime]*storedBatch
	adds   int // since the last prune
}

// addResult says what add did with an event.
type addResult int

const (
	addedNew     addResult = iota
	addDuplicate           // seen before
	addTooOld              // older than the window: cannot tell
	addBeforeMin           // from before a join without replay
)

// missing says whether some event-clock time in [from, to) has no event
// recorded: an event of that time exists somewhere (times are handed out
// in order) but has not arrived here.
func (b *eventBuffer) missing(from, to LamportTime) bool {
	if to <= from {
		return false
	}
	if to-from > eventWindow {
		return true
	}
	for t := from; t < to; t++ {
		if b.byTime[t] == nil {
			return true
		}
	}
	return false
}

// add records an event and says whether it is new. now is the event
// clock's current time; minTime is the oldest time accepted at all (after
// a join without replay, events from before the join are refused); at is
// the wall-clock time of arrival.
func (b *eventBuffer) add(e userEventRecord, lt, now, minTime LamportTime, at time.Time) addResult {
	if lt < minTime {
		return addBeforeMin
	}
	if now > eventWindow && lt < now-eventWindow {
		return addTooOld
	}
	if b.byTime == nil {
		b.byTime = map[LamportTime]*storedBatch{}
	}
	s := b.byTime[lt]
	if s == nil {
		s = &storedBatch{arrived: at}
		b.byTime[lt] = s
	}
	for _, seen := range s.events {
		if seen.Name == e.Name && bytes.Equal(seen.Payload, e.Payload) {
			return addDuplicate
		}
	}
	s.events = append(s.events, e)
	if b.adds++; b.adds >= 256 {
		b.prune(now)
	}
	return addedNew
}

// prune forgets the times that have left the window.
func (b *eventBuffer) prune(now LamportTime) {
	b.adds = 0
	if now <= eventWindow {
		return
	}
	for lt := range b.byTime {
		if lt < now-eventWindow {
			delete(b.byTime, lt)
		}
	}
}

// batches returns, in LTime order, copies of what a push/pull offers: the
// events of the last replayWindow ticks before now, and those that arrived
// after since.
func (b *eventBuffer) batches(now LamportTime, since time.Time) []*userEventBatch {
	var out []*userEventBatch
	for _, lt := range slices.Sorted(maps.Keys(b.byTime)) {
		s := b.byTime[lt]
		if lt+replayWindow >= now || s.arrived.After(since) {
			out = append(out, &userEventBatch{LTime: lt, Events: slices.Clone(s.events)})
		}
	}
	return out
}

// len returns how many event-clock times the buffer holds.
func (b *eventBuffer) len() int { return len(b.byTime) }
