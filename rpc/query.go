package rpc

import (
	"sync"
	"time"

	"github.com/agentd/agent/events"
)

// QueryParams narrows and shapes a query (see Cluster.Query).
type QueryParams struct {
	FilterNodes []string
	FilterTags  map[string]string // tag -> regular expression
	RequestAck  bool
	RelayFactor uint8
	Timeout     time.Duration // 0: the agent's default
}

// QueryAnswer is one ack (Ack set, no payload) or response from a node.
type QueryAnswer struct {
	Ack     bool
	From    string
	Payload []byte
}

// queryRecord is what a query streams to the client: {Type: ack|response|
// done, From, Payload}, Serf's.
type queryRecord struct {
	Type    string
	From    string
	Payload []byte
}

type queryEventRecord struct {
	Event   string // "query"
	ID      uint64
	LTime   uint64
	Name    string
	Payload []byte
}

// handleQuery runs a query for the client: the response header first,
// then a record per ack and response as they arrive, then "done".
func (c *conn) handleQuery(req request) {
	r := req.body.(*queryRequest)
	answers, cancel, err := c.srv.cfg.Cluster.Query(r.Name, r.Payload, QueryParams{
		FilterNodes: r.FilterNodes, FilterTags: r.FilterTags, RequestAck: r.RequestAck,
		RelayFactor: r.RelayFactor, Timeout: r.Timeout,
	})
	if err != nil {
		c.replyCmd(req, err, nil)
		return
	}
	if !c.replyCmd(req, nil, nil) {
		cancel()
		return
	}
	sub := newSubscription(req.seq)
	c.srv.wg.Go(func() {
		defer cancel()
		for {
			select {
			case <-c.done:
				return
			case a, ok := <-answers:
				if !ok {
					c.enqueueRecord(sub, &queryRecord{Type: "done"})
					return
				}
				if a.Ack {
					c.enqueueRecord(sub, &queryRecord{Type: "ack", From: a.From})
				} else {
					c.enqueueRecord(sub, &queryRecord{Type: "response", From: a.From, Payload: a.Payload})
				}
			}
		}
	})
}

// pendingQueries are the queries a connection has streamed to its client,
// by ID, until their deadline: the client answers them with "respond".
type pendingQueries struct {
	mu sync.Mutex
	m  map[uint64]*events.QueryEvent
}

func (p *pendingQueries) add(q *events.QueryEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[uint64]*events.QueryEvent{}
	}
	now := time.Now()
	for id, old := range p.m {
		if now.After(old.Deadline) {
			delete(p.m, id)
		}
	}
	p.m[uint64(q.ID)] = q
}

// take removes and returns the query with id, if pending and not expired.
func (p *pendingQueries) take(id uint64) *events.QueryEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.m[id]
	delete(p.m, id)
	if q == nil || time.Now().After(q.Deadline) {
		return nil
	}
	return q
}

func (c *conn) handleRespond(req request) {
	r := req.body.(*respondRequest)
	q := c.pending.take(r.ID)
	if q == nil {
		c.replyCmd(req, ErrInvalidQueryID, nil)
		return
	}
	c.replyCmd(req, q.Respond(r.Payload), nil)
}
