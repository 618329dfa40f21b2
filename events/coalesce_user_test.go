package events

import (
	"context"
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

func TestUserCoalescer(t *testing.T) {
	u := func(name string, lt uint64, payload string, cc bool) UserEvent {
		return UserEvent{LTime: lt, Name: name, Payload: []byte(payload), Coalesce: cc}
	}
	tests := []struct {
		name string
		add  []UserEvent
		want []UserEvent
	}{
		{"latest per name wins", []UserEvent{u("deploy", 3, "v1", true), u("deploy", 5, "v3", true), u("deploy", 4, "v2", true)},
			[]UserEvent{u("deploy", 5, "v3", true)}},
		{"same LTime kept together", []UserEvent{u("d", 5, "a", true), u("d", 5, "b", true), u("d", 4, "c", true)},
			[]UserEvent{u("d", 5, "a", true), u("d", 5, "b", true)}},
		{"names apart, ordered by LTime then name", []UserEvent{u("b", 7, "", true), u("a", 7, "", true), u("c", 2, "", true)},
			[]UserEvent{u("c", 2, "", true), u("a", 7, "", true), u("b", 7, "", true)}},
		{"unflagged events are not taken", []UserEvent{u("d", 9, "x", false)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c UserCoalescer
			for _, e := range tt.add {
				if got := c.Add(e); got != e.Coalesce {
					t.Errorf("Add(%v) = %v; want %v", e, got, e.Coalesce)
				}
			}
			if got := c.Flush(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Flush() = %v; want %v", got, tt.want)
			}
			if c.Pending() != 0 || c.Flush() != nil {
				t.Error("batch not empty after Flush")
			}
		})
	}
}

func TestCoalesceUserEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		in, out := make(chan Event), make(chan Event, 8)
		done := make(chan error, 1)
		go func() {
			done <- CoalesceUserEvents(ctx, CoalesceConfig{Quiet: 100 * time.Millisecond, MaxDelay: time.Second}, in, out)
		}()
		start := time.Now()
		in <- UserEvent{LTime: 1, Name: "deploy", Payload: []byte("v1"), Coalesce: true}
		in <- UserEvent{LTime: 2, Name: "restart", Coalesce: false} // passes at once
		in <- MemberEvent{Type: MemberJoin}                         // not its business
		in <- UserEvent{LTime: 3, Name: "deploy", Payload: []byte("v2"), Coalesce: true}
		if e := <-out; e.(UserEvent).Name != "restart" || time.Since(start) != 0 {
			t.Errorf("first out %v at %v; want restart at once", e, time.Since(start))
		}
		if _, ok := (<-out).(MemberEvent); !ok {
			t.Error("member event not passed through")
		}
		e := <-out
		if got := e.(UserEvent); string(got.Payload) != "v2" || time.Since(start) != 100*time.Millisecond {
			t.Errorf("coalesced %v at %v; want only v2 after the 100ms quiet window", got, time.Since(start))
		}
		synctest.Wait()
		if len(out) != 0 {
			t.Errorf("%d more events; want the burst merged into one", len(out))
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("CoalesceUserEvents() = %v", err)
		}
	})
}
