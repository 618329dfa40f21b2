package events

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// testEvent is a non-member event (or a member-typed event of a foreign
// concrete type) for pass-through tests.
type testEvent struct {
	typ Type
	id  int
}

func (e testEvent) EventType() Type { return e.typ }
func (e testEvent) String() string  { return fmt.Sprintf("%s #%d", e.typ, e.id) }

// coalesceRun is one Coalesce goroutine under test.
type coalesceRun struct {
	in     chan Event
	out    chan Event
	cancel context.CancelFunc
	done   chan error // receives Coalesce's result
}

// startCoalesce runs Coalesce in the current synctest bubble with an
// unbuffered in and an out of capacity outCap.
func startCoalesce(t *testing.T, cfg CoalesceConfig, outCap int) *coalesceRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &coalesceRun{
		in:     make(chan Event),
		out:    make(chan Event, outCap),
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { r.done <- Coalesce(ctx, cfg, r.in, r.out) }()
	return r
}

// expectIdle fails unless nothing can be received from out right now.
func (r *coalesceRun) expectIdle(t *testing.T) {
	t.Helper()
	synctest.Wait()
	select {
	case e := <-r.out:
		t.Fatalf("at %v: received %v; want nothing yet", time.Now(), e)
	default:
	}
}

// recv receives the next event, letting fake time run until one is sent,
// and checks that it arrived at elapsed time wantAt since start.
func (r *coalesceRun) recv(t *testing.T, start time.Time, wantAt time.Duration) Event {
	t.Helper()
	e := <-r.out
	if got := time.Since(start); got != wantAt {
		t.Errorf("%v arrived after %v; want %v", e, got, wantAt)
	}
	return e
}

// stop cancels the context and checks that Coalesce has returned at once,
// with the given error (nil for none).
func (r *coalesceRun) stop(t *testing.T, want error) {
	t.Helper()
	r.cancel()
	r.expectReturned(t, want)
}

// expectReturned checks that Coalesce has returned without further waiting.
func (r *coalesceRun) expectReturned(t *testing.T, want error) {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-r.done:
		if !errors.Is(err, want) {
			t.Errorf("Coalesce() = %v; want %v", err, want)
		}
	default:
		t.Fatalf("Coalesce() still running; want it returned")
	}
}

// wantMemberEvent checks that e is a MemberEvent equal to want.
func wantMemberEvent(t *testing.T, e Event, want MemberEvent) {
	t.Helper()
	got, ok := e.(MemberEvent)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("received %#v; want %s", e, describe([]MemberEvent{want}))
	}
}

func TestCoalesceQuietWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: 100 * time.Millisecond, MaxDelay: time.Second}, 0)
		start := time.Now()
		r.in <- ev(MemberJoin, "b")
		time.Sleep(50 * time.Millisecond)
		r.in <- ev(MemberJoin, "a") // restarts the quiet window: flush due at 150ms
		time.Sleep(99 * time.Millisecond)
		r.expectIdle(t)

		e := r.recv(t, start, 150*time.Millisecond)
		wantMemberEvent(t, e, ev(MemberJoin, "a", "b"))
		r.expectIdle(t)

		// A later batch gets its own window.
		time.Sleep(time.Second)
		start = time.Now()
		r.in <- ev(MemberLeave, "a")
		wantMemberEvent(t, r.recv(t, start, 100*time.Millisecond), ev(MemberLeave, "a"))
		r.stop(t, nil)
	})
}

func TestCoalesceMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			quiet    = 60 * time.Millisecond
			maxDelay = time.Second
			every    = quiet / 2
			total    = 200
		)
		r := startCoalesce(t, CoalesceConfig{Quiet: quiet, MaxDelay: maxDelay}, 0)
		start := time.Now()
		// A member joins every 30ms: the quiet window never elapses. Sends
		// fall at 0, 30, ..., 990, 1020, ...; never on a flush instant.
		stopFeed, feedDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(feedDone)
			for i := range total {
				select {
				case <-stopFeed: // checked first: both cases may be ready
					return
				default:
				}
				select {
				case r.in <- ev(MemberJoin, fmt.Sprintf("n%03d", i)):
				case <-stopFeed:
					return
				}
				time.Sleep(every)
			}
		}()
		names := func(from, to int) []string {
			var s []string
			for i := from; i < to; i++ {
				s = append(s, fmt.Sprintf("n%03d", i))
			}
			return s
		}
		// First batch: sends at 0..990ms, flushed at 1000ms.
		wantMemberEvent(t, r.recv(t, start, maxDelay), ev(MemberJoin, names(0, 34)...))
		// Second batch starts at 1020ms: sends at 1020..2010ms, flushed at 2020ms.
		wantMemberEvent(t, r.recv(t, start, 2020*time.Millisecond), ev(MemberJoin, names(34, 68)...))
		close(stopFeed)
		<-feedDone
		r.stop(t, nil)
	})
}

func TestCoalescePassThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: 100 * time.Millisecond, MaxDelay: time.Second}, 0)
		start := time.Now()
		r.in <- ev(MemberJoin, "a")
		time.Sleep(10 * time.Millisecond)

		passing := []Event{
			testEvent{typ: User, id: 1},
			testEvent{typ: Query, id: 2},
			testEvent{typ: User, id: 3},
			MemberEvent{Type: User, Members: []Member{mem("x")}},
			testEvent{typ: MemberJoin, id: 4}, // member type, foreign concrete type
			nil,
		}
		for _, e := range passing {
			r.in <- e
			if got := r.recv(t, start, 10*time.Millisecond); !reflect.DeepEqual(got, e) {
				t.Errorf("received %#v; want %#v passed through", got, e)
			}
		}
		// A *MemberEvent joins the batch; the batch still waits for its window.
		r.in <- &MemberEvent{Type: MemberJoin, Members: []Member{mem("b")}}
		r.expectIdle(t)
		wantMemberEvent(t, r.recv(t, start, 110*time.Millisecond), ev(MemberJoin, "a", "b"))
		r.stop(t, nil)
	})
}

func TestCoalesceFlushOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}, 2)
		start := time.Now()
		r.in <- ev(MemberLeave, "b")
		r.in <- ev(MemberJoin, "a")
		r.stop(t, nil)
		if got := time.Since(start); got != 0 {
			t.Errorf("Coalesce returned after %v; want 0 (no wait for the window)", got)
		}
		wantMemberEvent(t, <-r.out, ev(MemberJoin, "a"))
		wantMemberEvent(t, <-r.out, ev(MemberLeave, "b"))
	})
}

func TestCoalesceFlushOnCancelToWaitingReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}, 0)
		r.in <- ev(MemberJoin, "a")
		got := make(chan Event, 1)
		go func() { got <- <-r.out }()
		synctest.Wait() // the reader is now waiting on out
		r.stop(t, nil)
		wantMemberEvent(t, <-got, ev(MemberJoin, "a"))
	})
}

func TestCoalesceDropsOnCancelWhenOutIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}, 1)
		r.in <- ev(MemberJoin, "a")
		r.in <- ev(MemberFailed, "b")
		r.in <- ev(MemberReap, "c")
		r.cancel()
		synctest.Wait()
		err := <-r.done
		if !errors.Is(err, ErrEventsDropped) || !errors.Is(err, context.Canceled) {
			t.Errorf("Coalesce() = %v; want ErrEventsDropped and context.Canceled", err)
		}
		if want := "coalesce: 2 event(s) dropped at shutdown: context canceled"; err == nil || err.Error() != want {
			t.Errorf("Coalesce() = %v; want %q", err, want)
		}
		wantMemberEvent(t, <-r.out, ev(MemberJoin, "a"))
	})
}

func TestCoalesceCancelWhileBlockedOnOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: 100 * time.Millisecond, MaxDelay: time.Second}, 0)
		r.in <- testEvent{typ: User, id: 1} // nobody reads out: Coalesce blocks
		synctest.Wait()
		r.cancel()
		synctest.Wait()
		select {
		case err := <-r.done:
			if !errors.Is(err, ErrEventsDropped) {
				t.Errorf("Coalesce() = %v; want ErrEventsDropped", err)
			}
		default:
			t.Fatal("Coalesce() still blocked on out after cancel; want it returned")
		}
	})
}

func TestCoalesceFlushOnInputClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}, 0)
		start := time.Now()
		r.in <- ev(MemberUpdate, "a")
		close(r.in)
		// out is unbuffered and nobody reads yet: the flush waits for us.
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(r.done) != 0 {
			t.Fatalf("Coalesce() returned before its flush was taken; want it waiting on out")
		}
		wantMemberEvent(t, r.recv(t, start, time.Hour), ev(MemberUpdate, "a"))
		r.expectReturned(t, nil)
		select {
		case e, ok := <-r.out:
			t.Errorf("receive from out after return = %v, %v; want out open and empty", e, ok)
		default:
		}
		r.cancel()
	})
}

func TestCoalesceNoGoroutineLeft(t *testing.T) {
	// synctest.Test itself fails if a goroutine started in the bubble
	// outlives it; each exit path also checks that Coalesce has returned.
	exits := map[string]func(r *coalesceRun){
		"cancel":       func(r *coalesceRun) { r.cancel() },
		"close in":     func(r *coalesceRun) { close(r.in); r.cancel() },
		"cancel twice": func(r *coalesceRun) { r.cancel(); r.cancel() },
	}
	for name, exit := range exits {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startCoalesce(t, CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}, 0)
				r.in <- ev(MemberJoin, "a") // arms both timers
				exit(r)
				synctest.Wait()
				if len(r.done) != 1 {
					t.Fatalf("Coalesce() still running after %s; want it returned", name)
				}
			})
		})
	}
}

func TestCoalesceInvalidConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCoalesce(t, CoalesceConfig{Quiet: time.Second}, 0)
		r.expectReturned(t, ErrInvalidCoalesceConfig)
	})
}

func TestCoalesceConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  CoalesceConfig
		want []string // substrings of the error; none means valid
	}{
		{cfg: DefaultCoalesceConfig()},
		{cfg: CoalesceConfig{Quiet: time.Second, MaxDelay: time.Second}},
		{cfg: CoalesceConfig{}, want: []string{"quiet must be > 0, got 0s", "max delay must be > 0, got 0s"}},
		{cfg: CoalesceConfig{Quiet: -time.Second, MaxDelay: time.Second}, want: []string{"quiet must be > 0, got -1s"}},
		{cfg: CoalesceConfig{Quiet: time.Second, MaxDelay: -1}, want: []string{"max delay must be > 0, got -1ns"}},
		{cfg: CoalesceConfig{Quiet: 2 * time.Second, MaxDelay: time.Second}, want: []string{"quiet (2s) must be <= max delay (1s)"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%+v.Validate() = %v; want nil", tt.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidCoalesceConfig) {
			t.Errorf("%+v.Validate() = %v; want ErrInvalidCoalesceConfig", tt.cfg, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v.Validate() = %q; want it to mention %q", tt.cfg, err, w)
			}
		}
	}
}
