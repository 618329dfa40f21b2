package gossip

import (
	"net"

	"github.com/agentd/agent/events"
)

// ConflictQuery asks the cluster which address it knows under a name.
const ConflictQuery = InternalQueryPrefix + "conflict"

// answerConflict answers a name-conflict query: with the member this node
// knows under the name, encoded as Serf's conflict response (type byte,
// then the member; nil when unknown). A query about ourselves is not
// answered: we are a party to the dispute.
func (n *Node) answerConflict(q *events.QueryEvent) {
	name := string(q.Payload)
	if name == n.cfg.NodeName {
		return
	}
	var known *events.Member
	n.mu.Lock()
	if ms, ok := n.table.members[name]; ok {
		m := ms.member.Clone()
		known = &m
	}
	n.mu.Unlock()
	raw, err := encodeMessage(msgConflictResponse, known)
	if err != nil {
		n.logger.Error("encode conflict response", "err", err)
		return
	}
	if err := q.Respond(raw); err != nil {
		n.logger.Debug("answer conflict query", "name", name, "err", err)
	}
}

// resolveConflict asks the cluster who our name belongs to. If a majority
// of the answers name another address, this node is the newcomer: it
// stops, rather than fight for the name (Serf's rule).
func (n *Node) resolveConflict() {
	local := n.LocalMember()
	r, err := n.query(ConflictQuery, []byte(n.cfg.NodeName), QueryParams{})
	if err != nil {
		n.logger.Error("name conflict: cannot ask the cluster", "err", err)
		return
	}
	responses, matching := 0, 0
	for resp := range r.Responses() {
		m, err := decodeConflictResponse(resp.Payload)
		if err != nil {
			n.logger.Warn("name conflict: malformed answer", "from", resp.From, "err", err)
			continue
		}
		responses++
		if m != nil && net.IP(m.Addr).Equal(local.Addr) && m.Port == local.Port {
			matching++
		}
	}
	if majority := responses/2 + 1; matching >= majority {
		n.logger.Info("name conflict: the majority knows us under our name; staying", "agree", matching, "answers", responses)
		return
	}
	n.logger.Error("name conflict: the majority knows another node under our name; shutting down",
		"name", n.cfg.NodeName, "agree", matching, "answers", responses)
	n.conflictLost.Store(true)
	go func() { _ = n.Shutdown() }() // Shutdown waits for this goroutine's loop
}
