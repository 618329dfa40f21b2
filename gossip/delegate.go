package gossip

import (
	"net"

	"github.com/agentd/agent/events"
	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/memberlist"
)

// messageDelegate adapts memberlist.Delegate onto the node: node meta, gossip
// messages, broadcasts and push/pull state.
type messageDelegate struct{ n *Node }

var _ memberlist.Delegate = (*messageDelegate)(nil)

// NodeMeta returns our encoded tags. SetTags and New refuse tags that do not
// fit, so this never has to truncate.
func (d *messageDelegate) NodeMeta(limit int) []byte {
	d.n.metaMu.RLock()
	defer d.n.metaMu.RUnlock()
	if len(d.n.meta) > limit {
		d.n.logger.Error("encoded tags exceed memberlist's meta limit; sending none", "size", len(d.n.meta), "limit", limit)
		return nil
	}
	return d.n.meta
}

// NotifyMsg handles one gossip message. buf belongs to memberlist; it is
// copied before being queued for rebroadcast.
func (d *messageDelegate) NotifyMsg(buf []byte) {
	n := d.n
	n.stats.received.Add(1)
	metrics.AddSample([]string{"serf", "msgs", "received"}, float32(len(buf)))
	msg, err := decodeMessage(buf)
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Debug("dropping malformed gossip message", "err", err, "size", len(buf))
		return
	}
	rebroadcast := false
	switch msg.Type {
	case msgJoin:
		rebroadcast = n.handleJoinIntent(*msg.Join)
		if rebroadcast {
			n.intents.QueueBroadcast(newBroadcast(clone(buf), intentName(msg.Join.Node), nil))
		}
	case msgLeave:
		rebroadcast = n.handleLeaveIntent(*msg.Leave)
		if rebroadcast {
			n.intents.QueueBroadcast(newBroadcast(clone(buf), intentName(msg.Leave.Node), nil))
		}
	case msgUserEvent:
		n.handleUserEvent(*msg.UserEvent, 0, buf)
	case msgQuery:
		n.handleQuery(*msg.Query, clone(buf))
	case msgQueryResponse:
		n.handleQueryResponse(*msg.QueryResponse)
	case msgRelay:
		d.relay(msg.Relay, msg.RelayPayload)
	default:
		n.stats.unhandled.Add(1)
	}
}

// relay forwards a wrapped message to its destination (used by queries with
// a relay factor, so a response reaches the asker over several paths).
func (d *messageDelegate) relay(h *relayHeader, payload []byte) {
	addr := memberlist.Address{Addr: h.DestAddr.String(), Name: h.DestName}
	ml := d.n.mlist.Load()
	if ml == nil {
		return
	}
	if err := ml.SendToAddress(addr, clone(payload)); err != nil {
		d.n.logger.Debug("relay message", "to", addr.String(), "err", err)
	}
}

// GetBroadcasts returns queued gossip to piggyback on memberlist's
// messages: intents first, then queries, then user events, each in the
// room the previous left.
func (d *messageDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	var msgs [][]byte
	for _, q := range []*memberlist.TransmitLimitedQueue{d.n.intents, d.n.queries, d.n.userEvents} {
		more := q.GetBroadcasts(overhead, limit)
		for _, m := range more {
			limit -= overhead + len(m)
			metrics.AddSample([]string{"serf", "msgs", "sent"}, float32(len(m)))
		}
		msgs = append(msgs, more...)
	}
	return msgs
}

// LocalState is our side of a push/pull: member status times, left members
// and the clocks.
func (d *messageDelegate) LocalState(join bool) []byte {
	n := d.n
	pp := pushPullMessage{
		EventLTime: n.eventClock.Time(),
		Events:     n.eventBatches(),
		QueryLTime: n.queryClock.Time(),
	}
	n.mu.Lock()
	pp.LTime = n.clock.Time()
	pp.StatusLTimes, pp.LeftMembers = n.table.localState()
	n.mu.Unlock()
	buf, err := encodeMessage(msgPushPull, &pp)
	if err != nil {
		n.logger.Error("encode push/pull state", "err", err)
		return nil
	}
	return buf
}

// MergeRemoteState merges a peer's push/pull state: clocks are witnessed,
// left members become leave intents and the rest join intents, and the
// peer's recent user events are delivered if new, unless this is a join
// without replay, which refuses every event from before it.
func (d *messageDelegate) MergeRemoteState(buf []byte, join bool) {
	n := d.n
	msg, err := decodeMessage(buf)
	if err == nil && msg.Type != msgPushPull {
		err = ErrUnknownMessage
	}
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Warn("dropping malformed push/pull state", "err", err, "size", len(buf))
		return
	}
	pp := msg.PushPull
	for c, v := range map[*LamportClock]LamportTime{&n.clock: pp.LTime, &n.eventClock: pp.EventLTime, &n.queryClock: pp.QueryLTime} {
		if v > 0 {
			c.Witness(v - 1)
		}
	}
	var left map[string]bool
	for _, name := range pp.LeftMembers {
		if left == nil {
			left = make(map[string]bool, len(pp.LeftMembers))
		}
		left[name] = true
		// The leave was accepted after the status time the peer holds.
		n.handleLeaveIntent(leaveMessage{LTime: pp.StatusLTimes[name] + 1, Node: name})
	}
	n.mergeJoinIntents(pp.StatusLTimes, left)
	// A join without replay refuses everything from before it; a join with
	// replay takes Serf's window of recent events; any other push/pull
	// repairs what gossip missed.
	var minTime LamportTime
	if join && n.evJoinIgnore.Load() {
		n.raiseEventMin(pp.EventLTime)
	} else if join && pp.EventLTime > replayWindow {
		minTime = pp.EventLTime - replayWindow
	}
	for _, b := range pp.Events {
		if b == nil {
			continue
		}
		for _, e := range b.Events {
			n.handleUserEvent(userEventMessage{LTime: b.LTime, Name: e.Name, Payload: e.Payload}, minTime, nil)
		}
	}
}

// membershipDelegate adapts memberlist.EventDelegate: memberlist's view of
// which nodes are alive drives the member states.
type membershipDelegate struct{ n *Node }

var _ memberlist.EventDelegate = (*membershipDelegate)(nil)

// NotifyJoin: memberlist holds its node lock here, so nothing may call back
// into memberlist.
func (d *membershipDelegate) NotifyJoin(node *memberlist.Node) {
	info := d.n.nodeInfo(node)
	d.n.locked(func(t *memberTable) []events.MemberEvent {
		return []events.MemberEvent{t.nodeJoined(info, d.n.cfg.Now())}
	})
}

// NotifyLeave marks the node left (if it was leaving) or failed.
func (d *membershipDelegate) NotifyLeave(node *memberlist.Node) {
	d.n.locked(func(t *memberTable) []events.MemberEvent {
		if e, ok := t.nodeLeft(node.Name, d.n.cfg.Now()); ok {
			return []events.MemberEvent{e}
		}
		return nil
	})
}

// NotifyUpdate records new tags or address.
func (d *membershipDelegate) NotifyUpdate(node *memberlist.Node) {
	info := d.n.nodeInfo(node)
	d.n.locked(func(t *memberTable) []events.MemberEvent {
		if e, ok := t.nodeUpdated(info); ok {
			return []events.MemberEvent{e}
		}
		return nil
	})
}

func (n *Node) nodeInfo(node *memberlist.Node) nodeInfo {
	tags, err := n.tagCache.decode(node.Meta)
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Warn("undecodable tags", "member", node.Name, "err", err)
	}
	return nodeInfo{
		Name: node.Name,
		Addr: append(net.IP(nil), node.Addr...),
		Port: node.Port,
		Tags: tags,
		PMin: node.PMin, PMax: node.PMax, PCur: node.PCur,
		DMin: node.DMin, DMax: node.DMax, DCur: node.DCur,
	}
}

// conflictDelegate logs name conflicts; resolving them is the job of the
// _serf_conflict query in the query layer.
type conflictDelegate struct{ n *Node }

var _ memberlist.ConflictDelegate = (*conflictDelegate)(nil)

// NotifyConflict is called when two nodes claim the same name.
func (d *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	d.n.stats.conflicts.Add(1)
	d.n.logger.Error("node name conflict: two nodes claim one name; names must be unique",
		"name", existing.Name, "existing", existing.Address(), "other", other.Address())
	if existing.Name == d.n.cfg.NodeName && d.n.resolving.CompareAndSwap(false, true) {
		d.n.goLoop(func() {
			defer d.n.resolving.Store(false)
			d.n.resolveConflict()
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
