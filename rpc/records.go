package rpc

import (
	"maps"
	"net"

	"github.com/agentd/agent/events"
)

// toMemberRecord converts a member to its wire form. IPv4 addresses are
// sent as 4 bytes, as Serf does (memberlist keeps IPv4 in 4-byte form).
// Tags and Addr are copied: the record is encoded later, by the writer.
func toMemberRecord(m events.Member) memberRecord {
	addr := m.Addr
	if ip4 := addr.To4(); ip4 != nil {
		addr = ip4
	}
	var addrCopy []byte
	if addr != nil {
		addrCopy = append([]byte(nil), addr...)
	}
	return memberRecord{
		Name:        m.Name,
		Addr:        addrCopy,
		Port:        m.Port,
		Tags:        maps.Clone(m.Tags),
		Status:      m.Status.String(),
		ProtocolMin: m.ProtocolMin,
		ProtocolMax: m.ProtocolMax,
		ProtocolCur: m.ProtocolCur,
		DelegateMin: m.DelegateMin,
		DelegateMax: m.DelegateMax,
		DelegateCur: m.DelegateCur,
	}
}

// fromMemberRecord converts a wire member back. A status name this package
// does not know becomes StatusNone.
func fromMemberRecord(r memberRecord) events.Member {
	status, err := events.ParseMemberStatus(r.Status)
	if err != nil {
		status = events.StatusNone
	}
	var addr net.IP
	if r.Addr != nil {
		addr = net.IP(r.Addr)
	}
	return events.Member{
		Name:        r.Name,
		Addr:        addr,
		Port:        r.Port,
		Tags:        r.Tags,
		Status:      status,
		ProtocolMin: r.ProtocolMin,
		ProtocolMax: r.ProtocolMax,
		ProtocolCur: r.ProtocolCur,
		DelegateMin: r.DelegateMin,
		DelegateMax: r.DelegateMax,
		DelegateCur: r.DelegateCur,
	}
}

func toMemberRecords(ms []events.Member) []memberRecord {
	out := make([]memberRecord, len(ms))
	for i, m := range ms {
		out[i] = toMemberRecord(m)
	}
	return out
}

func fromMemberRecords(rs []memberRecord) []events.Member {
	out := make([]events.Member, len(rs))
	for i, r := range rs {
		out[i] = fromMemberRecord(r)
	}
	return out
}

// cloneStats copies stats, which the writer encodes later.
func cloneStats(stats map[string]map[string]string) map[string]map[string]string {
	if stats == nil {
		return nil
	}
	out := make(map[string]map[string]string, len(stats))
	for k, v := range stats {
		out[k] = maps.Clone(v)
	}
	return out
}

// eventRecord converts an event to its stream record and gives the name a
// "user:NAME" or "query:NAME" filter compares. It reports false for an
// event that has no stream record yet (queries arrive with later work;
// they slot in here).
func eventRecord(e events.Event) (rec any, name string, ok bool) {
	switch e := e.(type) {
	case events.MemberEvent:
		return &memberEventRecord{Event: e.Type.String(), Members: toMemberRecords(e.Members)}, "", true
	case *events.QueryEvent:
		if e != nil {
			return &queryEventRecord{Event: events.Query.String(), ID: uint64(e.ID), LTime: e.LTime, Name: e.Name, Payload: e.Payload}, e.Name, true
		}
	case events.UserEvent:
		return &userEventRecord{Event: events.User.String(), LTime: e.LTime, Name: e.Name, Payload: e.Payload, Coalesce: e.Coalesce}, e.Name, true
	case *events.MemberEvent:
		if e != nil {
			return eventRecord(*e)
		}
	}
	return nil, "", false
}

// recordEvent converts a stream record back to an event. It reports false
// for a record this package cannot represent yet (queries).
func recordEvent(r *streamRecord) (events.Event, bool) {
	typ, err := events.ParseType(r.Event)
	switch {
	case err != nil:
		return nil, false
	case typ.IsMember():
		return events.MemberEvent{Type: typ, Members: fromMemberRecords(r.Members)}, true
	case typ == events.User:
		return events.UserEvent{LTime: r.LTime, Name: r.Name, Payload: r.Payload, Coalesce: r.Coalesce}, true
	case typ == events.Query:
		// Answer it with Client.Respond and its ID.
		return &events.QueryEvent{LTime: r.LTime, ID: uint32(r.ID), Name: r.Name, Payload: r.Payload}, true
	}
	return nil, false
}
