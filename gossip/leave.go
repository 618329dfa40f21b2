package gossip

import (
	"context"
	"fmt"
	"time"

	"github.com/agentd/agent/events"
)

// pruneAfter erases a leaving member once its leave has had time to spread.
func (n *Node) pruneAfter(name string, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.stop:
		return
	}
	n.locked(func(t *memberTable) []events.MemberEvent {
		if e, ok := t.pruneIfGone(name); ok {
			return []events.MemberEvent{e}
		}
		return nil
	})
}

// Leave leaves the cluster gracefully: it broadcasts a leave intent, waits
// for it to be sent (up to BroadcastTimeout), then leaves memberlist, so
// every member sees this node go leaving -> left rather than failed. The
// node must still be shut down afterwards.
func (n *Node) Leave(ctx context.Context) error {
	n.stateMu.Lock()
	switch n.state {
	case stateLeft:
		n.stateMu.Unlock()
		return nil
	case stateAlive:
		n.state = stateLeaving
		n.stateMu.Unlock()
	default:
		st := n.state
		n.stateMu.Unlock()
		return fmt.Errorf("leave: %w", stateErr(st))
	}

	msg := leaveMessage{LTime: n.clock.Time(), Node: n.cfg.NodeName}
	n.clock.Increment()
	n.handleLeaveIntent(msg)
	if err := n.broadcastAndWait(ctx, msgLeave, msg.Node, &msg); err != nil {
		n.logger.Warn("graceful leave: intent not fully sent", "err", err)
	}
	if err := n.mlist.Load().Leave(n.cfg.BroadcastTimeout); err != nil {
		n.logger.Warn("graceful leave: memberlist leave", "err", err)
	}
	// Let memberlist's dead message spread before we stop answering.
	if d := n.cfg.LeavePropagateDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-n.stop:
		}
		t.Stop()
	}
	n.stateMu.Lock()
	if n.state == stateLeaving {
		n.state = stateLeft
	}
	n.stateMu.Unlock()
	if n.snap != nil {
		n.snap.leave()
	}
	return nil
}

// broadcastAndWait queues an intent and waits until memberlist has sent it
// enough times, BroadcastTimeout passes, or ctx ends. With no alive peer
// there is nobody to tell, and it returns at once.
func (n *Node) broadcastAndWait(ctx context.Context, t messageType, node string, msg any) error {
	n.mu.Lock()
	peers := n.table.hasAlivePeers()
	n.mu.Unlock()
	if !peers {
		return nil
	}
	done := make(chan struct{})
	if err := n.queueIntent(t, node, msg, done); err != nil {
		return err
	}
	timer := time.NewTimer(n.cfg.BroadcastTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		return fmt.Errorf("%w %s intent for %s after %s", ErrBroadcastTimeout, t, node, n.cfg.BroadcastTimeout)
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stop:
		return ErrShutdown
	}
}

// ForceLeave moves a failed member to left on every node (as if it had left
// gracefully), so it is no longer retried. With prune it is erased at once
// instead of waiting for the tombstone timeout.
func (n *Node) ForceLeave(ctx context.Context, name string, prune bool) error {
	if st := n.getState(); st != stateAlive {
		return fmt.Errorf("force-leave %s: %w", name, stateErr(st))
	}
	if name == n.cfg.NodeName {
		return fmt.Errorf("force-leave %s: that is the local node; use leave", name)
	}
	n.mu.Lock()
	_, known := n.table.members[name]
	n.mu.Unlock()
	if !known {
		return fmt.Errorf("force-leave %s: %w", name, ErrUnknownMember)
	}
	msg := leaveMessage{LTime: n.clock.Time(), Node: name, Prune: prune}
	n.clock.Increment()
	n.handleLeaveIntent(msg)
	if err := n.broadcastAndWait(ctx, msgLeave, name, &msg); err != nil {
		return fmt.Errorf("force-leave %s: %w", name, err)
	}
	return nil
}
