package gossip

import "sync/atomic"

// LamportTime is a point on a Lamport clock.
type LamportTime uint64

// LamportClock is a thread-safe Lamport clock. The zero value reads 0; the
// node increments each of its clocks once at start so that they read 1.
type LamportClock struct {
	counter atomic.Uint64
}

// Time returns the current value.
func (c *LamportClock) Time() LamportTime {
	return LamportTime(c.counter.Load())
}

// Increment advances the clock by one and returns the new value.
func (c *LamportClock) Increment() LamportTime {
	return LamportTime(c.counter.Add(1))
}

// Witness moves the clock past v: after it, Time() > v.
func (c *LamportClock) Witness(v LamportTime) {
	for {
		cur := c.counter.Load()
		if uint64(v) < cur {
			return
		}
		if c.counter.CompareAndSwap(cur, uint64(v)+1) {
			return
		}
	}
}
