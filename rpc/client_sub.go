package rpc

import (
	"context"
	"fmt"

	"github.com/agentd/agent/events"
)

// SubscriptionBuffer is the capacity of the channels Stream and Monitor
// return. The client never waits for the caller: when the channel is full,
// the event or line is dropped and counted (see Client.Dropped).
const SubscriptionBuffer = 512

// StopFunc ends a stream or monitor: its channel is closed at once, then
// the agent is asked to stop sending. It is idempotent, and returns nil
// without asking the agent if the subscription already ended (or the
// connection did).
type StopFunc func(ctx context.Context) error

// clientSub is a stream or monitor on the client side. All fields but seq,
// cmd and init are guarded by Client.mu.
type clientSub struct {
	seq  uint64
	cmd  string // cmdStream, cmdMonitor or cmdQuery
	init chan error

	replied bool // the response has arrived; what follows are records
	open    bool // the channel is open
	events  chan events.Event
	lines   chan string
	answers chan QueryAnswer
}

// closeChan closes the caller's channel once. Client.mu must be held.
func (s *clientSub) closeChan() {
	if !s.open {
		return
	}
	s.open = false
	if s.events != nil {
		close(s.events)
	}
	if s.answers != nil {
		close(s.answers)
	}
	if s.lines != nil {
		close(s.lines)
	}
}

// deliver passes a decoded record to the caller without waiting, and
// reports whether it was dropped because the channel is full. Records of
// an ended subscription are discarded silently. Client.mu must be held.
func (s *clientSub) deliver(rec any) (full bool) {
	if !s.open {
		return false
	}
	switch r := rec.(type) {
	case *logRecord:
		select {
		case s.lines <- r.Log:
		default:
			return true
		}
	case *queryRecord:
		if r.Type == "done" {
			s.closeChan()
			return false
		}
		select {
		case s.answers <- QueryAnswer{Ack: r.Type == "ack", From: r.From, Payload: r.Payload}:
		default:
			return true
		}
	case *streamRecord:
		e, ok := recordEvent(r)
		if !ok {
			return false
		}
		select {
		case s.events <- e:
		default:
			return true
		}
	}
	return false
}

// Stream subscribes to the agent's events. filter is Serf's syntax: a
// comma-separated list of member-join, member-leave, member-failed,
// member-update, member-reap, user, user:NAME, query, query:NAME, or "*"
// ("" means "*"); an unknown type is an error wrapping ErrInvalidFilter.
//
// Member events arrive as events.MemberEvent, user events as
// events.UserEvent and queries as *events.QueryEvent (answer them with
// Respond on this client). The channel is closed by stop or when the connection
// ends. If ctx ends before the agent answers, the stream is abandoned:
// records that still arrive are discarded until the connection closes.
func (c *Client) Stream(ctx context.Context, filter string) (<-chan events.Event, StopFunc, error) {
	s := &clientSub{cmd: cmdStream, events: make(chan events.Event, SubscriptionBuffer)}
	if err := c.subscribe(ctx, s, &streamRequest{Type: filter}); err != nil {
		return nil, nil, err
	}
	return s.events, c.stopper(s), nil
}

// Query asks the cluster through the agent. Acks (Ack set) and responses
// arrive on the channel as the agent receives them; it is closed when the
// query ends (its timeout, or once every matching node has answered), or
// when ctx ends before the agent accepted it.
func (c *Client) Query(ctx context.Context, name string, payload []byte, p QueryParams) (<-chan QueryAnswer, error) {
	s := &clientSub{cmd: cmdQuery, answers: make(chan QueryAnswer, SubscriptionBuffer)}
	req := &queryRequest{FilterNodes: p.FilterNodes, FilterTags: p.FilterTags, RequestAck: p.RequestAck,
		RelayFactor: p.RelayFactor, Timeout: p.Timeout, Name: name, Payload: payload}
	if err := c.subscribe(ctx, s, req); err != nil {
		return nil, err
	}
	return s.answers, nil
}

// Monitor streams the agent's log lines at level and above: the lines the
// agent has buffered first, then new ones. level is TRACE, DEBUG, INFO,
// WARN or ERR, in any case; another is an error wrapping
// ErrUnknownLogLevel. A connection has at most one monitor
// (ErrMonitorExists). Channel and ctx behave as for Stream.
func (c *Client) Monitor(ctx context.Context, level string) (<-chan string, StopFunc, error) {
	s := &clientSub{cmd: cmdMonitor, lines: make(chan string, SubscriptionBuffer)}
	if err := c.subscribe(ctx, s, &monitorRequest{LogLevel: level}); err != nil {
		return nil, nil, err
	}
	return s.lines, c.stopper(s), nil
}

// subscribe sends the request that opens s and waits for the response.
func (c *Client) subscribe(ctx context.Context, s *clientSub, req any) error {
	s.seq = c.seq.Add(1)
	s.init = make(chan error, 1)
	s.open = true
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return c.closedErr(s.cmd)
	default:
	}
	c.subs[s.seq] = s
	c.mu.Unlock()

	fail := func(err error) error {
		c.mu.Lock()
		s.closeChan()
		c.mu.Unlock()
		return err
	}
	if err := c.send(ctx, s.cmd, s.seq, req); err != nil {
		c.mu.Lock()
		delete(c.subs, s.seq)
		c.mu.Unlock()
		return fail(fmt.Errorf("%s: %w", s.cmd, err))
	}
	select {
	case err := <-s.init:
		if err != nil {
			return fail(err)
		}
		return nil
	case <-c.closed:
		select {
		case err := <-s.init:
			if err != nil {
				return fail(err)
			}
			return nil
		default:
			return fail(c.closedErr(s.cmd))
		}
	case <-ctx.Done():
		return fail(fmt.Errorf("%s: %w", s.cmd, context.Cause(ctx)))
	}
}

// stopper returns the StopFunc of s.
func (c *Client) stopper(s *clientSub) StopFunc {
	return func(ctx context.Context) error {
		c.mu.Lock()
		wasOpen := s.open
		s.closeChan()
		c.mu.Unlock()
		if !wasOpen {
			return nil
		}
		return c.call(ctx, cmdStop, &stopRequest{Stop: s.seq}, nil)
	}
}
