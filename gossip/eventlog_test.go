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
	done  chan struct{}
	quit  chan struct{}
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
