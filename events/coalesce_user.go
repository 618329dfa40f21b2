package events

import (
	"cmp"
	"slices"
)

// UserCoalescer merges bursts of user events flagged Coalesce: per event
// name, only the events of the latest LTime added since the last Flush
// are kept (several events can share an LTime, fired at once on different
// nodes). Events not flagged are not its business. It holds only rules;
// [CoalesceUserEvents] drives it with timers. The zero value is ready to
// use; it is not safe for concurrent use.
type UserCoalescer struct {
	latest map[string][]UserEvent // per name, all of the same LTime
}

// Add keeps e if it is flagged Coalesce and not older than what is pending
// under its name, and reports false (keeping nothing) if it is not flagged.
func (c *UserCoalescer) Add(e UserEvent) bool {
	if !e.Coalesce {
		return false
	}
	if c.latest == nil {
		c.latest = map[string][]UserEvent{}
	}
	cur := c.latest[e.Name]
	switch {
	case len(cur) == 0 || e.LTime > cur[0].LTime:
		c.latest[e.Name] = []UserEvent{e}
	case e.LTime == cur[0].LTime:
		c.latest[e.Name] = append(cur, e)
	}
	return true
}

// Pending returns how many names have events waiting.
func (c *UserCoalescer) Pending() int { return len(c.latest) }

// Flush empties the batch and returns the events kept, by LTime and then
// name, in the order added within one name and LTime.
func (c *UserCoalescer) Flush() []UserEvent {
	var out []UserEvent
	for _, evs := range c.latest {
		out = append(out, evs...)
	}
	c.latest = nil
	slices.SortStableFunc(out, func(a, b UserEvent) int {
		return cmp.Or(cmp.Compare(a.LTime, b.LTime), cmp.Compare(a.Name, b.Name))
	})
	return out
}
