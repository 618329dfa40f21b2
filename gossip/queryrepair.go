package gossip

import (
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/agentd/agent/events"
	"github.com/hashicorp/memberlist"
)

// A query travels like a user event, by direct sends and gossip, and a
// member that hears neither never learns of it: queries are not part of
// push/pull state, so no later exchange brings them. A query asked with
// acks tells its asker who has it. So at a quarter and again at half of
// its timeout, the asker sends the query straight to every expected
// member that has not acknowledged it yet. Members that already have it
// drop the copy (queries are deduplicated by time and id), Serf's among
// them; the cost is at most two packets per missing member per query.

// queryRepairDivisors place the repairs at timeout/4 and timeout/2.
var queryRepairDivisors = [...]time.Duration{4, 2}

// scheduleQueryRepair arms the repairs of r, whose encoded query is raw.
// Closing r stops them.
func (n *Node) scheduleQueryRepair(r *QueryResponse, raw []byte, timeout time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return // every expected member answered already
	}
	for _, div := range queryRepairDivisors {
		r.repairs = append(r.repairs, time.AfterFunc(timeout/div, func() { n.repairQuery(r, raw) }))
	}
}

// repairQuery sends raw to the expected members that have not acked r.
func (n *Node) repairQuery(r *QueryResponse, raw []byte) {
	missing := r.unacked()
	if len(missing) == 0 || n.getState() != stateAlive {
		return
	}
	sent := n.sendTo(missing, raw)
	n.stats.queryResends.Add(uint64(sent))
}

// unacked returns the expected members that have not acknowledged the
// query, sorted; none once it is closed.
func (r *QueryResponse) unacked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	var out []string
	for name := range r.expected {
		if !r.acked[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// sendTo sends msg straight to each named member that is alive, other
// than ourselves, and returns how many sends succeeded.
func (n *Node) sendTo(names []string, msg []byte) int {
	ml := n.mlist.Load()
	if ml == nil {
		return 0
	}
	var to []memberlist.Address
	n.mu.Lock()
	for _, name := range names {
		ms, ok := n.table.members[name]
		if ok && name != n.cfg.NodeName && ms.member.Status == events.StatusAlive {
			to = append(to, memberAddress(ms.member))
		}
	}
	n.mu.Unlock()
	return n.sendPackets(ml, to, msg)
}

// sendPackets sends msg as a best-effort packet to each address and
// returns how many sends succeeded.
func (n *Node) sendPackets(ml *memberlist.Memberlist, to []memberlist.Address, msg []byte) int {
	sent := 0
	for _, a := range to {
		if err := ml.SendToAddress(a, msg); err != nil {
			n.logger.Debug("direct send", "to", a.Name, "err", err)
			continue
		}
		sent++
	}
	return sent
}

// memberAddress is where memberlist reaches m.
func memberAddress(m events.Member) memberlist.Address {
	return memberlist.Address{Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))), Name: m.Name}
}
