package events

// Clone returns a copy of e that shares no slices or maps with it: each
// member is copied with [Member.Clone]. A nil Members stays nil.
func (e MemberEvent) Clone() MemberEvent {
	c := MemberEvent{Type: e.Type}
	if e.Members != nil {
		c.Members = make([]Member, len(e.Members))
		for i, m := range e.Members {
			c.Members[i] = m.Clone()
		}
	}
	return c
}
