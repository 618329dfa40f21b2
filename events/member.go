package events

import (
	"fmt"
	"net"
)

// MemberStatus is a member's state as the gossip layer sees it. The numeric
// values match Serf's, because they travel in RPC member records.
type MemberStatus int

// Member states, in Serf's numbering.
const (
	StatusNone MemberStatus = iota
	StatusAlive
	StatusLeaving
	StatusLeft
	StatusFailed
)

// String returns the status name Serf uses ("alive", "left", ...).
func (s MemberStatus) String() string {
	switch s {
	case StatusNone:
		return "none"
	case StatusAlive:
		return "alive"
	case StatusLeaving:
		return "leaving"
	case StatusLeft:
		return "left"
	case StatusFailed:
		return "failed"
	default:
		return fmt.Sprintf("unknown(%d)", int(s))
	}
}

// ParseMemberStatus is the inverse of MemberStatus.String.
func ParseMemberStatus(s string) (MemberStatus, error) {
	for st := StatusNone; st <= StatusFailed; st++ {
		if st.String() == s {
			return st, nil
		}
	}
	return StatusNone, fmt.Errorf("unknown member status %q", s)
}

// Member is one cluster member as seen by the local node.
type Member struct {
	Name   string
	Addr   net.IP
	Port   uint16
	Tags   map[string]string
	Status MemberStatus

	// Memberlist protocol versions the member understands and speaks.
	ProtocolMin, ProtocolMax, ProtocolCur uint8
	// Gossip (delegate) protocol versions the member understands and speaks.
	DelegateMin, DelegateMax, DelegateCur uint8
}

// Clone returns a copy of m that shares no maps or slices with it.
func (m Member) Clone() Member {
	c := m
	if m.Addr != nil {
		c.Addr = append(net.IP(nil), m.Addr...)
	}
	if m.Tags != nil {
		c.Tags = make(map[string]string, len(m.Tags))
		for k, v := range m.Tags {
			c.Tags[k] = v
		}
	}
	return c
}
