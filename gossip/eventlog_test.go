package gossip_test

import (
	"fmt"
	"sync"

	"github.com/agentd/agent/events"
)

// eventLog drains an event channel and remembers what it saw.
type eventLog struct {
	mu    sync.Mutex
	seen  []events.MemberEvent
	users []events.UserEvent
	// respond, if set, answers every query delivered (nil: no answer).
	respond func(q *events.QueryEvent) []byte
	queries []*events.QueryEvent
	done    chan struct{}
	quit    chan struct{}
}

func newEventLog(ch <-chan events.Event) *eventLog {
	l := &eventLog{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case e := <-ch:
				l.mu.Lock()
				switch e := e.(type) {
				case events.MemberEvent:
					l.seen = append(l.seen, e)
				case events.UserEvent:
					l.users = append(l.users, e)
				case *events.QueryEvent:
					l.queries = append(l.queries, e)
					if l.respond != nil {
						if p := l.respond(e); p != nil {
							go e.Respond(p) //nolint:errcheck // tests check what arrives
						}
					}
				}
				l.mu.Unlock()
			case <-l.quit:
				return
			}
		}
	}()
	return l
}

func (l *eventLog) stop() {
	close(l.quit)
	<-l.done
}

// has returns "" if an event of type t about member was seen.
func (l *eventLog) has(t events.Type, member string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.seen {
		if e.Type != t {
			continue
		}
		for _, m := range e.Members {
			if m.Name == member {
				return ""
			}
		}
	}
	return fmt.Sprintf("no %s event for %s among %d events", t, member, len(l.seen))
}

// count returns how many member entries of type t were seen.
func (l *eventLog) count(t events.Type) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.seen {
		if e.Type == t {
			n += len(e.Members)
		}
	}
	return n
}

// queryEvents returns the queries delivered so far, in order.
func (l *eventLog) queryEvents() []*events.QueryEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*events.QueryEvent(nil), l.queries...)
}

// setResponder makes the log answer every later query with f's result.
func (l *eventLog) setResponder(f func(q *events.QueryEvent) []byte) {
	l.mu.Lock()
	l.respond = f
	l.mu.Unlock()
}

// userEvents returns the user events seen so far, in order.
func (l *eventLog) userEvents() []events.UserEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.UserEvent(nil), l.users...)
}

// userCounts returns how often each user event name:payload was seen.
func (l *eventLog) userCounts() map[string]int {
	c := map[string]int{}
	for _, e := range l.userEvents() {
		c[e.Name+":"+string(e.Payload)]++
	}
	return c
}
