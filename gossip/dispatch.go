package gossip

import (
	"sync"
	"sync/atomic"

	"github.com/agentd/agent/events"
)

// eventQueue hands events to the consumer's channel in order without ever
// blocking the gossip goroutines that produce them: when the consumer falls
// more than max events behind, the oldest are dropped and counted.
type eventQueue struct {
	out     chan<- events.Event
	max     int
	wake    chan struct{}
	dropped atomic.Uint64

	mu    sync.Mutex
	items []events.Event
}

func newEventQueue(out chan<- events.Event, max int) *eventQueue {
	return &eventQueue{out: out, max: max, wake: make(chan struct{}, 1)}
}

// push queues e; it never blocks.
func (q *eventQueue) push(e events.Event) {
	if q.out == nil {
		return
	}
	q.mu.Lock()
	if len(q.items) >= q.max {
		n := len(q.items) - q.max + 1
		q.items = q.items[n:]
		q.dropped.Add(uint64(n))
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events until stop is closed.
func (q *eventQueue) run(stop <-chan struct{}) {
	if q.out == nil {
		return
	}
	for {
		q.mu.Lock()
		batch := q.items
		q.items = nil
		q.mu.Unlock()
		for i, e := range batch {
			select {
			case q.out <- e:
			case <-stop:
				return
			}
			batch[i] = nil
		}
		select {
		case <-q.wake:
		case <-stop:
			return
		}
	}
}
