package gossip

import (
	"net"
	"strconv"
	"time"

	"github.com/agentd/agent/events"
)

// every calls f each interval until the node stops.
func (n *Node) every(interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f()
		case <-n.stop:
			return
		}
	}
}

// reapLoop erases failed and left members whose timeouts have passed.
func (n *Node) reapLoop() {
	n.every(n.cfg.ReapInterval, n.reap)
}

func (n *Node) reap() {
	n.locked(func(t *memberTable) []events.MemberEvent {
		return t.reap(n.cfg.Now(), n.cfg.ReconnectTimeout, n.cfg.TombstoneTimeout, n.cfg.RecentIntentTimeout)
	})
}

// reconnectLoop retries failed members, so a healed partition merges back
// without an operator's join.
func (n *Node) reconnectLoop() {
	n.every(n.cfg.ReconnectInterval, n.reconnect)
}

func (n *Node) reconnect() {
	n.mu.Lock()
	m, ok := n.table.reconnectTarget(n.rng)
	n.mu.Unlock()
	if !ok || n.getState() != stateAlive {
		return
	}
	addr := m.Name + "/" + net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
	n.logger.Debug("trying to reconnect to failed member", "member", m.Name, "addr", addr)
	if _, err := n.mlist.Load().Join([]string{addr}); err != nil {
		n.logger.Debug("reconnect failed", "member", m.Name, "err", err)
	}
}

// queueCheckLoop warns about deep broadcast queues and prunes them past
// the limit so memory stays bounded.
func (n *Node) queueCheckLoop() {
	n.every(n.cfg.QueueCheckInterval, n.checkQueue)
}

func (n *Node) checkQueue() {
	depth := n.intents.NumQueued()
	if depth >= n.cfg.QueueDepthWarning {
		n.logger.Warn("intent broadcast queue is deep", "depth", depth)
	}
	limit := max(n.cfg.MaxQueueDepth, 2*n.NumMembers())
	if depth > limit {
		n.logger.Warn("intent broadcast queue over limit; dropping oldest", "depth", depth, "limit", limit)
		n.intents.Prune(limit)
		n.stats.queueDropped.Add(uint64(depth - limit))
	}
}
