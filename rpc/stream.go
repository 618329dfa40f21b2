package rpc

import (
	"sync"
	"sync/atomic"

	"github.com/agentd/agent/events"
)

// subscription is an open stream or monitor of one connection, known by
// the Seq of the request that opened it.
type subscription struct {
	seq     uint64
	stopped atomic.Bool
	stop    chan struct{}
	once    sync.Once
}

func newSubscription(seq uint64) *subscription {
	return &subscription{seq: seq, stop: make(chan struct{})}
}

// end stops the subscription: its pump exits and the writer skips its
// records still queued. Safe to call repeatedly.
func (s *subscription) end() {
	s.once.Do(func() {
		s.stopped.Store(true)
		close(s.stop)
	})
}

func (s *subscription) ended() bool { return s.stopped.Load() }

// handleStream opens an event stream. As in Serf, the response is sent
// before subscribing, so the client sees it before any record.
func (c *conn) handleStream(req request) {
	r := req.body.(*streamRequest)
	filter, err := parseEventFilter(r.Type)
	if err != nil {
		c.replyCmd(req, err, nil)
		return
	}
	if _, ok := c.streams[req.seq]; ok {
		c.replyCmd(req, ErrStreamExists, nil)
		return
	}
	sub := newSubscription(req.seq)
	c.streams[req.seq] = sub
	if !c.replyCmd(req, nil, nil) {
		return
	}
	ch, cancel := c.srv.cfg.Events.Subscribe()
	c.srv.wg.Go(func() { c.pumpEvents(sub, filter, ch, cancel) })
}

// pumpEvents moves events from the agent to the connection's record queue
// until the subscription or the connection ends. It never waits for the
// client: see enqueueRecord.
func (c *conn) pumpEvents(sub *subscription, filter eventFilter, ch <-chan events.Event, cancel func()) {
	pump(c, sub, ch, cancel, func(e events.Event) {
		if rec, name, ok := eventRecord(e); ok && filter.match(e.EventType(), name) {
			if q, ok := e.(*events.QueryEvent); ok {
				c.pending.add(q)
			}
			c.enqueueRecord(sub, rec)
		}
	})
}

// pump hands every value from ch to handle until the subscription or the
// connection ends, then calls cancel.
func pump[T any](c *conn, sub *subscription, ch <-chan T, cancel func(), handle func(T)) {
	defer cancel()
	for {
		select {
		case <-sub.stop:
			return
		case <-c.done:
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			handle(v)
		}
	}
}
