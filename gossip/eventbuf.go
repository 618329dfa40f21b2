package gossip

import (
	"bytes"
	"slices"
)

// eventBufferLen is how many event-clock times the user-event dedup buffer
// remembers (Serf's value): an event is recognised as a duplicate as long
// as it is less than this many ticks older than the clock, and an older
// one is refused.
const eventBufferLen = 512

// eventBuffer remembers the user events seen per event-clock time, in a
// ring indexed by LTime % eventBufferLen. It is pure: the caller locks.
type eventBuffer struct {
	slots [eventBufferLen]*userEventBatch
}

// add records an event and reports whether it is new. now is the event
// clock's current time; minTime is the oldest time accepted at all (after
// a join without replay, events from before the join are refused).
func (b *eventBuffer) add(e userEventRecord, lt, now, minTime LamportTime) bool {
	if lt < minTime {
		return false
	}
	if now > eventBufferLen && lt < now-eventBufferLen {
		return false // too old to tell whether it is a duplicate
	}
	i := lt % eventBufferLen
	slot := b.slots[i]
	if slot == nil || slot.LTime != lt {
		// Empty, or holds an older time that has fallen out of the window.
		slot = &userEventBatch{LTime: lt}
		b.slots[i] = slot
	}
	for _, seen := range slot.Events {
		if seen.Name == e.Name && bytes.Equal(seen.Payload, e.Payload) {
			return false
		}
	}
	slot.Events = append(slot.Events, e)
	return true
}

// batches returns a copy of the buffer's contents in LTime order, for
// push/pull: a joining node can replay them.
func (b *eventBuffer) batches() []*userEventBatch {
	var out []*userEventBatch
	for _, s := range b.slots {
		if s != nil && len(s.Events) > 0 {
			out = append(out, &userEventBatch{LTime: s.LTime, Events: slices.Clone(s.Events)})
		}
	}
	slices.SortFunc(out, func(a, b *userEventBatch) int {
		switch {
		case a.LTime < b.LTime:
			return -1
		case a.LTime > b.LTime:
			return 1
		}
		return 0
	})
	return out
}
