//go:build !race

package suite

import (
	"context"
	"io"
	"log"
	"sync"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// node is one cluster member under measurement, ours or Serf's.
type node interface {
	join(ctx context.Context, addr string) error
	// leave leaves gracefully; the node must still be shut down.
	leave(ctx context.Context) error
	// shutdown stops the node without a leave.
	shutdown() error
	// status returns what the node believes of member: "alive", "failed",
	// "left", ... or "" when it does not know it.
	status(member string) string
	// alive returns how many members, itself included, it sees alive.
	alive() int
	// userEvent fires a user event without coalescing.
	userEvent(name string, payload []byte) error
}

// observed is one member event as a node's event stream delivered it.
type observed struct {
	at       time.Time
	observer int
	typ      string // "member-failed", ..., "user"
	member   string // for a user event: its name and payload, "name:payload"
}

// recorder keeps every member event of a cluster, with the time it came
// out of the observer's stream.
type recorder struct {
	mu     sync.Mutex
	events []observed
}

func (r *recorder) add(o observed) {
	r.mu.Lock()
	r.events = append(r.events, o)
	r.mu.Unlock()
}

// member records a member event of type typ about member at observer.
func (r *recorder) member(observer int, typ, member string) {
	r.add(observed{at: time.Now(), observer: observer, typ: typ, member: member})
}

// user records a user event at observer.
func (r *recorder) user(observer int, name string, payload []byte) {
	r.add(observed{at: time.Now(), observer: observer, typ: "user", member: name + ":" + string(payload)})
}

// drain passes every value from ch to record until stop is closed.
func drain[E any](ch <-chan E, stop <-chan struct{}, record func(E)) {
	for {
		select {
		case e := <-ch:
			record(e)
		case <-stop:
			return
		}
	}
}

// since returns the events recorded at or after t.
func (r *recorder) since(t time.Time) []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observed
	for _, e := range r.events {
		if !e.at.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// impl starts nodes of one implementation.
type impl struct {
	name string
	// start starts node number idx on tr; its member events go to rec.
	// stop ends the goroutine that drains them.
	start func(idx int, name string, tr *memnet.Transport, rec *recorder, stop <-chan struct{}) (node, error)
}

// Both run memberlist's LAN timings and their own defaults (Serf's values)
// for everything else, with logs discarded and no event coalescing.
var (
	ours    = impl{name: "ours", start: startOurs}
	serfLib = impl{name: "serf", start: startSerf}
	// impls is the order in which each scenario runs them.
	impls = []impl{ours, serfLib}
)

func startOurs(idx int, name string, tr *memnet.Transport, rec *recorder, stop <-chan struct{}) (node, error) {
	cfg := gossip.DefaultConfig()
	if err := cfg.SetProfile(gossip.ProfileLAN); err != nil {
		return nil, err
	}
	ch := make(chan events.Event, 1024)
	cfg.NodeName, cfg.Transport, cfg.Logger, cfg.Events = name, tr, nil, ch
	n, err := gossip.Create(cfg)
	if err != nil {
		return nil, err
	}
	go drain(ch, stop, func(ev events.Event) {
		switch ev := ev.(type) {
		case events.MemberEvent:
			for _, m := range ev.Members {
				rec.member(idx, ev.Type.String(), m.Name)
			}
		case events.UserEvent:
			rec.user(idx, ev.Name, ev.Payload)
		}
	})
	return oursNode{n}, nil
}

type oursNode struct{ n *gossip.Node }

func (o oursNode) join(ctx context.Context, addr string) error {
	_, err := o.n.Join(ctx, []string{addr}, false)
	return err
}

func (o oursNode) leave(ctx context.Context) error { return o.n.Leave(ctx) }
func (o oursNode) userEvent(name string, payload []byte) error {
	return o.n.UserEvent(name, payload, false)
}
func (o oursNode) shutdown() error { return o.n.Shutdown() }

func (o oursNode) status(member string) string {
	for _, m := range o.n.Members() {
		if m.Name == member {
			return m.Status.String()
		}
	}
	return ""
}

func (o oursNode) alive() int {
	c := 0
	for _, m := range o.n.Members() {
		if m.Status == events.StatusAlive {
			c++
		}
	}
	return c
}

func startSerf(idx int, name string, tr *memnet.Transport, rec *recorder, stop <-chan struct{}) (node, error) {
	conf := serf.DefaultConfig()
	conf.NodeName = name
	conf.ProtocolVersion = 5
	conf.LogOutput = io.Discard
	conf.Logger = log.New(io.Discard, "", 0)
	mc := memberlist.DefaultLANConfig()
	mc.Transport = tr
	mc.Logger = conf.Logger
	conf.MemberlistConfig = mc
	ch := make(chan serf.Event, 1024)
	conf.EventCh = ch
	s, err := serf.Create(conf)
	if err != nil {
		return nil, err
	}
	go drain(ch, stop, func(ev serf.Event) {
		switch ev := ev.(type) {
		case serf.MemberEvent:
			for _, m := range ev.Members {
				rec.member(idx, ev.Type.String(), m.Name)
			}
		case serf.UserEvent:
			rec.user(idx, ev.Name, ev.Payload)
		}
	})
	return serfNode{s}, nil
}

type serfNode struct{ s *serf.Serf }

func (s serfNode) join(_ context.Context, addr string) error {
	_, err := s.s.Join([]string{addr}, false)
	return err
}

func (s serfNode) leave(context.Context) error { return s.s.Leave() }
func (s serfNode) userEvent(name string, payload []byte) error {
	return s.s.UserEvent(name, payload, false)
}
func (s serfNode) shutdown() error { return s.s.Shutdown() }

func (s serfNode) status(member string) string {
	for _, m := range s.s.Members() {
		if m.Name == member {
			return m.Status.String()
		}
	}
	return ""
}

func (s serfNode) alive() int {
	c := 0
	for _, m := range s.s.Members() {
		if m.Status == serf.StatusAlive {
			c++
		}
	}
	return c
}
