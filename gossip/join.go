package gossip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Join contacts the given addresses ("host:port", or "name/host:port") and
// merges state with every one that answers. It returns how many answered;
// the error names each address that failed. With replay false, user events
// from before the join are not delivered; with replay true, the recent ones
// that the contacted peers remember are.
func (n *Node) Join(ctx context.Context, addrs []string, replay bool) (int, error) {
	if st := n.getState(); st != stateAlive {
		return 0, fmt.Errorf("join: %w", stateErr(st))
	}
	n.joinMu.Lock()
	defer n.joinMu.Unlock()
	n.evJoinIgnore.Store(!replay)
	defer n.evJoinIgnore.Store(false)
	joined := 0
	var errs []error
	for _, addr := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("join %s: %w", addr, err))
			continue
		}
		c, err := n.joinOne(ctx, addr)
		joined += c
		if c == 0 && err != nil {
			errs = append(errs, fmt.Errorf("join %s: %w", addr, explainJoinError(plainJoinError(addr, err))))
		}
	}
	if joined > 0 {
		n.broadcastJoin()
	}
	return joined, errors.Join(errs...)
}

// plainJoinError unpacks memberlist's multi-error ("1 error occurred: *
// Failed to join ADDR: cause") into the cause, for a one-line message.
func plainJoinError(addr string, err error) error {
	multi, ok := err.(interface{ WrappedErrors() []error })
	if !ok || len(multi.WrappedErrors()) != 1 {
		return err
	}
	inner := multi.WrappedErrors()[0]
	msg := inner.Error()
	for _, p := range []string{"Failed to join " + addr + ": ", "failed to join " + addr + ": "} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			return errors.New(rest)
		}
	}
	return inner
}

// joinBusyRetries is how often a join is tried again when the peer hung
// up without a word, as memberlist does when it has too many push/pulls
// pending (a fleet starting at once, all joining one seed).
const joinBusyRetries = 4

// joinOne joins through one address, backing off with jitter (up to 0.25,
// 0.5, 1 and 2 s) while the peer hangs up, so a crowd of joiners spreads
// out instead of retrying in step.
func (n *Node) joinOne(ctx context.Context, addr string) (int, error) {
	for attempt := 0; ; attempt++ {
		c, err := n.mlist.Load().Join([]string{addr})
		if c > 0 || err == nil || attempt == joinBusyRetries || !hungUp(err) {
			return c, err
		}
		n.mu.Lock()
		wait := time.Duration(n.rng.Int64N(int64(250*time.Millisecond) << attempt))
		n.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return c, err
		case <-n.stop:
			t.Stop()
			return c, err
		}
	}
}

// hungUp reports whether a join failed because the peer closed the
// connection without answering.
func hungUp(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset by peer")
}

// explainJoinError adds the likely cause to a join that the peer cut off
// without a word: memberlist drops a stream whose cluster label or
// encryption does not match its own, and the joiner sees only EOF.
func explainJoinError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "could decrypt") {
		return fmt.Errorf("%w (the peer encrypts with a key this node does not have: compare encrypt_key or the keyring files)", err)
	}
	if strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset by peer") {
		return fmt.Errorf("%w (the peer closed the connection: the usual cause is a different cluster label or gossip encryption key on the two sides; the peer's log says which)", err)
	}
	return err
}

// broadcastJoin announces (or re-asserts) that we are alive, at the current
// member-clock time.
func (n *Node) broadcastJoin() {
	msg := joinMessage{LTime: n.clock.Time(), Node: n.cfg.NodeName}
	n.clock.Witness(msg.LTime)
	n.handleJoinIntent(msg)
	if err := n.queueIntent(msgJoin, msg.Node, &msg, nil); err != nil {
		n.logger.Warn("broadcast join intent", "err", err)
	}
}
