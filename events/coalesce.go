package events

import (
	"slices"
	"strings"
)

// MemberCoalescer merges bursts of member events so that a handler runs once
// per burst instead of once per member. It holds only rules, no clock and no
// goroutines; [Coalesce] drives it with timers.
//
// The rules:
//   - Per member name only the latest event added since the last Flush is
//     kept: its type and its member record.
//   - Flush emits at most one MemberEvent per type, holding the members whose
//     latest event has that type.
//   - A member whose latest type equals the type last emitted for that member
//     is suppressed, because nothing changed for the handler. MemberUpdate is
//     never suppressed: tags may have changed again.
//   - Emitting MemberReap forgets the member, so memory stays bounded by the
//     members not yet reaped. (Serf would suppress a second reap of the same
//     name; Serf never reaps a name twice without an event in between, so
//     this only differs in that unreachable case.)
//
// The zero value is ready to use. A MemberCoalescer is not safe for
// concurrent use.
type MemberCoalescer struct {
	// latest is the newest event per member name since the last Flush.
	latest map[string]pendingMember
	// emitted is the type last emitted per member name.
	emitted map[string]Type
}

// pendingMember is a member's latest unflushed event.
type pendingMember struct {
	typ    Type
	member Member
}

// Add records e for each of its members, replacing any event still pending
// for the same name; for duplicate names within e the last one wins. It
// reports false, and records nothing, when e.Type is not a member type.
//
// The member records are kept as given, not copied: the caller must not
// mutate their Addr or Tags afterwards (use [MemberEvent.Clone] if needed).
func (c *MemberCoalescer) Add(e MemberEvent) bool {
	if !e.Type.IsMember() {
		return false
	}
	if c.latest == nil {
		c.latest = make(map[string]pendingMember, len(e.Members))
	}
	for _, m := range e.Members {
		c.latest[m.Name] = pendingMember{typ: e.Type, member: m}
	}
	return true
}

// Pending returns the number of members with an event added since the last
// Flush. A pending member may still be suppressed by Flush.
func (c *MemberCoalescer) Pending() int { return len(c.latest) }

// Flush empties the batch and returns the events to deliver: at most one per
// type, ordered by Type value, each with its members sorted by name. It
// returns nil when there is nothing to deliver. The returned slices belong
// to the caller.
func (c *MemberCoalescer) Flush() []MemberEvent {
	if len(c.latest) == 0 {
		return nil
	}
	if c.emitted == nil {
		c.emitted = make(map[string]Type, len(c.latest))
	}
	var byType [MemberReap + 1][]Member
	for name, p := range c.latest {
		if last, ok := c.emitted[name]; ok && last == p.typ && p.typ != MemberUpdate {
			continue
		}
		byType[p.typ] = append(byType[p.typ], p.member)
		if p.typ == MemberReap {
			delete(c.emitted, name)
		} else {
			c.emitted[name] = p.typ
		}
	}
	clear(c.latest)

	var out []MemberEvent
	for t, members := range byType {
		if len(members) == 0 {
			continue
		}
		slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, MemberEvent{Type: Type(t), Members: members})
	}
	return out
}
