package memnet

import (
	"maps"
	"time"
)

// link is one direction between two addresses.
type link struct{ from, to string }

// faults is an immutable snapshot of the fault settings. The packet path
// loads it without locking; setters copy, modify and store a new one.
type faults struct {
	loss      float64                  // network-wide packet loss probability
	delay     time.Duration            // network-wide packet and dial delay
	linkLoss  map[link]float64         // per-direction overrides of loss
	nodeDelay map[string]time.Duration // extra delay to and from a node
	group     map[string]int           // partition group by address; nil: none
}

func (f *faults) clone() *faults {
	c := *f
	c.linkLoss = maps.Clone(f.linkLoss)
	c.nodeDelay = maps.Clone(f.nodeDelay)
	return &c // group is never modified in place, only replaced
}

// connected reports whether a and b are in the same partition group.
// Addresses in no group share group 0.
func (f *faults) connected(a, b string) bool {
	return f.group[a] == f.group[b]
}

func (f *faults) lossFor(from, to string) float64 {
	if p, ok := f.linkLoss[link{from, to}]; ok {
		return p
	}
	return f.loss
}

func (f *faults) delayFor(from, to string) time.Duration {
	d := f.delay + f.nodeDelay[from]
	if to != from {
		d += f.nodeDelay[to]
	}
	return d
}

// update applies change to a copy of the fault settings and publishes it.
// It returns the streams that the new settings cut, already unregistered,
// for the caller to reset outside the lock.
func (n *Network) update(change func(*faults)) []*stream {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.faults.Load().clone()
	change(f)
	n.faults.Store(f)
	var cut []*stream
	for s := range n.streams {
		if !f.connected(s.a.owner, s.b.owner) {
			delete(n.streams, s)
			cut = append(cut, s)
		}
	}
	return cut
}

func clampProb(p float64) float64 {
	switch {
	case p > 1:
		return 1
	case p > 0:
		return p
	default: // also NaN
		return 0
	}
}

// SetLoss drops each packet, network-wide, with probability p (clamped to
// [0, 1]). Stream data is never lost. SetLinkLoss overrides it per direction.
func (n *Network) SetLoss(p float64) {
	n.update(func(f *faults) { f.loss = clampProb(p) })
}

// SetLinkLoss drops each packet sent from address from to address to with
// probability p (clamped to [0, 1]) instead of the SetLoss probability. The
// reverse direction is not affected. A negative p removes the override.
func (n *Network) SetLinkLoss(from, to string, p float64) {
	n.update(func(f *faults) {
		if p < 0 {
			delete(f.linkLoss, link{from, to})
			return
		}
		if f.linkLoss == nil {
			f.linkLoss = make(map[link]float64)
		}
		f.linkLoss[link{from, to}] = clampProb(p)
	})
}

// SetDelay delays the delivery of every packet sent from now on by d, and
// stalls every dial by d before it connects (a dial whose timeout is shorter
// fails with a timeout). d <= 0 removes the delay. Delays add up: a packet
// between slow nodes waits SetDelay plus both nodes' SetNodeDelay.
func (n *Network) SetDelay(d time.Duration) {
	n.update(func(f *faults) { f.delay = max(d, 0) })
}

// SetNodeDelay adds d to the delay of every packet sent to or from addr, and
// of every dial to or from it: a slow node. d <= 0 removes it.
func (n *Network) SetNodeDelay(addr string, d time.Duration) {
	n.update(func(f *faults) {
		if d <= 0 {
			delete(f.nodeDelay, addr)
			return
		}
		if f.nodeDelay == nil {
			f.nodeDelay = make(map[string]time.Duration)
		}
		f.nodeDelay[addr] = d
	})
}

// Partition splits the network into groups of addresses, replacing any
// earlier partition. Addresses listed in no group, including transports
// created later, form one more group together. Between groups, packets are
// dropped (also those already waiting out a delay), dials fail with
// ErrUnreachable, and open streams are reset: reads and writes on both ends
// fail with ErrReset. An address listed twice belongs to its last group.
// Partition() with no groups is Heal.
func (n *Network) Partition(groups ...[]string) {
	var g map[string]int
	if len(groups) > 0 {
		g = make(map[string]int)
		for i, addrs := range groups {
			for _, a := range addrs {
				g[a] = i + 1
			}
		}
	}
	resetAll(n.update(func(f *faults) { f.group = g }))
}

// Heal removes the partition; loss and delay settings stay. Streams reset by
// the partition stay reset.
func (n *Network) Heal() {
	n.update(func(f *faults) { f.group = nil })
}

// Reset clears every fault: loss, link loss, delays and partition. Packets
// already waiting out a delay keep their delay.
func (n *Network) Reset() {
	n.update(func(f *faults) { *f = faults{} })
}

func resetAll(ss []*stream) {
	for _, s := range ss {
		s.reset(ErrReset)
	}
}
