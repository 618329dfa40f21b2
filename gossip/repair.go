package gossip

import (
	"net"
	"strconv"
	"time"
)

// Gossip reaches each node with probability about 1 - e^-L for L
// retransmissions, so in a large or busy cluster a few nodes miss a
// change and would wait for the next periodic push/pull, which memberlist
// stretches as the cluster grows (minutes at a few hundred nodes). To
// close such gaps on purpose, a node that sees membership change makes a
// few extra push/pull exchanges with random members: one every
// RepairInterval while changes keep coming (backing off to one every 16
// intervals when they keep coming for long) and for RepairRounds
// intervals after the last one. A push/pull is a plain memberlist join
// exchange, so Serf peers take part unchanged; the extra traffic is
// bounded by one exchange per interval per node.

// The same exchange repairs user events: push/pull carries a node's
// recent events, and a node learns it missed some when a later one
// arrives with a time above its event clock (see handleUserEvent); it
// then, unless they arrive within gapSettle, makes one push/pull at
// once instead of waiting for the periodic one.

// gapSettle is how long a node waits for missing events before it
// fetches them: events overtake one another on the way (a direct send
// and gossip take different paths), so a hole is often filled a moment
// later.
const gapSettle = 100 * time.Millisecond

// noteChange tells the repair loop that membership changed.
func (n *Node) noteChange() {
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// repairLoop runs the extra push/pulls.
func (n *Node) repairLoop() {
	if n.cfg.RepairRounds <= 0 || n.cfg.RepairInterval <= 0 {
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending, running := 0, false
	// interval grows while changes keep coming (see repairBackoff); busy
	// counts the repairs in a row that saw a change since the last one.
	interval, busy, changed := n.cfg.RepairInterval, 0, false
	gapTimer := time.NewTimer(time.Hour)
	gapTimer.Stop()
	var lastGapRepair time.Time
	gapWaiting := false
	for {
		select {
		case <-n.eventGap:
			if !gapWaiting {
				gapWaiting = true
				gapTimer.Reset(gapSettle)
			}
		case <-gapTimer.C:
			// Events still missing after gapSettle were lost, not late:
			// a push/pull brings the peer's recent ones, at most one
			// a RepairInterval.
			gapWaiting = false
			if !n.eventsMissing() {
				continue
			}
			if wait := n.cfg.RepairInterval - time.Since(lastGapRepair); wait > 0 {
				gapWaiting = true
				gapTimer.Reset(wait)
				continue
			}
			lastGapRepair = time.Now()
			n.stats.eventGapRepairs.Add(1)
			n.pushPullRandom()
		case <-n.changed:
			pending, changed = n.cfg.RepairRounds, true
			if !running {
				timer.Reset(interval)
				running = true
			}
		case <-timer.C:
			running = false
			if pending == 0 {
				continue
			}
			pending--
			n.pushPullRandom()
			interval, busy = repairBackoff(n.cfg.RepairInterval, n.cfg.RepairRounds, interval, busy, changed)
			changed = false
			if pending > 0 {
				timer.Reset(interval)
				running = true
			} else {
				interval, busy = n.cfg.RepairInterval, 0
			}
		case <-n.stop:
			timer.Stop()
			gapTimer.Stop()
			return
		}
	}
}

// repairMaxFactor caps the repair interval under steady churn at this
// many times RepairInterval.
const repairMaxFactor = 16

// repairBackoff returns the next repair interval and run of busy repairs.
// A burst of changes (a fleet starting) gets its first rounds repairs one
// base interval apart; past that, changes that keep coming (a rolling replacement, one member a second) double the
// interval up to repairMaxFactor times the base, so steady churn costs
// one push/pull per node every 16 s instead of every second. A quiet
// interval returns to the base.
func repairBackoff(base time.Duration, rounds int, interval time.Duration, busy int, changed bool) (time.Duration, int) {
	if !changed {
		return base, 0
	}
	busy++
	if busy > rounds {
		interval = min(2*interval, repairMaxFactor*base)
	}
	return interval, busy
}

// pushPullRandom exchanges full state with one random alive member.
func (n *Node) pushPullRandom() {
	ml := n.mlist.Load()
	if ml == nil || n.getState() != stateAlive {
		return
	}
	n.mu.Lock()
	peers := n.table.randomAlivePeers(n.rng, 1)
	n.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	p := peers[0]
	addr := net.JoinHostPort(p.Addr.String(), strconv.Itoa(int(p.Port)))
	n.stats.repairs.Add(1)
	if _, err := ml.Join([]string{p.Name + "/" + addr}); err != nil {
		n.logger.Debug("repair push/pull", "with", p.Name, "err", err)
	}
}
