package gossip

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"

	"github.com/agentd/agent/events"
)

// restoreSnapshot opens the node's snapshot and sets the clocks from it,
// before any network I/O: events and queries from before the restart are
// then refused as old instead of running again.
func (n *Node) restoreSnapshot() error {
	if n.cfg.SnapshotPath == "" {
		return nil
	}
	snap, st, err := openSnapshot(n.cfg.SnapshotPath, n.logger)
	if err != nil {
		return err
	}
	n.snap, n.restored = snap, st
	n.clock.Witness(st.Clock)
	n.eventClock.Witness(st.EventClock)
	n.queryClock.Witness(st.QueryClock)
	n.evMin = st.EventClock
	n.qMin = st.QueryClock
	if len(st.Alive) > 0 || st.Clock > 0 {
		n.logger.Info("snapshot restored", "path", n.cfg.SnapshotPath, "alive_members", len(st.Alive),
			"clock", st.Clock, "event_clock", st.EventClock, "query_clock", st.QueryClock, "left", st.Left)
	}
	return nil
}

// snapshotMembers records member events in the snapshot.
func (n *Node) snapshotMembers(evs []events.MemberEvent) {
	if n.snap == nil {
		return
	}
	for _, e := range evs {
		for _, m := range e.Members {
			switch e.Type {
			case events.MemberJoin, events.MemberUpdate:
				n.snap.alive(m.Name, net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))))
			case events.MemberLeave, events.MemberFailed, events.MemberReap:
				n.snap.notAlive(m.Name)
			}
		}
	}
}

// snapshotClocks records the clocks if they moved; called before each
// user event or query is delivered.
func (n *Node) snapshotClocks() {
	if n.snap != nil {
		n.snap.clocks(n.clock.Time(), n.eventClock.Time(), n.queryClock.Time())
	}
}

// snapshotLoop records clock moves (member intents move the member clock
// without an event) and syncs the file every snapshotSyncInterval.
func (n *Node) snapshotLoop() {
	n.every(snapshotSyncInterval, func() {
		n.snapshotClocks()
		n.snap.sync()
	})
}

// rejoinFromSnapshot joins the members the snapshot last saw alive, one at
// a time in random order, until one answers. After a graceful leave it
// does not, unless RejoinAfterLeave. Events that happened while the node
// was away are delivered (the snapshot's clocks refuse older ones).
func (n *Node) rejoinFromSnapshot() {
	st := n.restored
	var addrs []string
	for name, addr := range st.Alive {
		if name != n.cfg.NodeName {
			addrs = append(addrs, addr)
		}
	}
	if len(addrs) == 0 {
		return
	}
	if st.Left && !n.cfg.RejoinAfterLeave {
		n.logger.Info("snapshot: this node left the cluster last time; not rejoining (rejoin_after_leave changes that)")
		return
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, addr := range addrs {
		if ctx.Err() != nil {
			return
		}
		if _, err := n.Join(ctx, []string{addr}, true); err != nil {
			n.logger.Info("snapshot rejoin: member did not answer", "addr", addr, "err", err)
			continue
		}
		n.logger.Info("snapshot rejoin: rejoined the cluster", "through", addr)
		return
	}
	n.logger.Warn("snapshot rejoin: none of the members last seen alive answered", "tried", len(addrs))
}
