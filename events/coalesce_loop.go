package events

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidCoalesceConfig is wrapped by every error CoalesceConfig.Validate
// returns.
var ErrInvalidCoalesceConfig = errors.New("invalid coalesce config")

// ErrEventsDropped is wrapped by the error Coalesce returns when ctx ended
// before out took every event Coalesce had accepted.
var ErrEventsDropped = errors.New("event(s) dropped at shutdown")

// CoalesceConfig sets the timing of [Coalesce].
type CoalesceConfig struct {
	// Quiet is the quiet window, as a duration: the batch is flushed once no
	// member event has arrived for Quiet. Each member event restarts the
	// window. Must be > 0 and <= MaxDelay. Serf calls it QuiescentPeriod.
	Quiet time.Duration
	// MaxDelay caps, as a duration, how long the first member event of a
	// batch waits: the batch is flushed MaxDelay after that event even if
	// member events keep arriving. Must be > 0. Serf calls it CoalescePeriod.
	MaxDelay time.Duration
}

// DefaultCoalesceConfig returns the timing the Serf agent uses for member
// events: a 1s quiet window and a 3s maximum delay.
func DefaultCoalesceConfig() CoalesceConfig {
	return CoalesceConfig{Quiet: time.Second, MaxDelay: 3 * time.Second}
}

// Validate reports every problem with c, each wrapping
// ErrInvalidCoalesceConfig, or nil if c is usable.
func (c CoalesceConfig) Validate() error {
	var errs []error
	if c.Quiet <= 0 {
		errs = append(errs, fmt.Errorf("%w: quiet must be > 0, got %v", ErrInvalidCoalesceConfig, c.Quiet))
	}
	if c.MaxDelay <= 0 {
		errs = append(errs, fmt.Errorf("%w: max delay must be > 0, got %v", ErrInvalidCoalesceConfig, c.MaxDelay))
	}
	if c.Quiet > 0 && c.MaxDelay > 0 && c.Quiet > c.MaxDelay {
		errs = append(errs, fmt.Errorf("%w: quiet (%v) must be <= max delay (%v)", ErrInvalidCoalesceConfig, c.Quiet, c.MaxDelay))
	}
	return errors.Join(errs...)
}

// Coalesce reads events from in and writes them to out, merging bursts of
// member events with a [MemberCoalescer]. It blocks until in is closed or
// ctx is done, so run it in its own goroutine. It never closes out.
//
// A MemberEvent (or non-nil *MemberEvent) of a member type joins the current
// batch; one without members is discarded. The batch is flushed when no
// member event has arrived for cfg.Quiet, or cfg.MaxDelay after its first
// event, whichever comes first. Every other event, including a member-typed
// event of another concrete type, is forwarded at once and untouched, so
// such events keep their order among themselves but may overtake a pending
// batch.
//
// While ctx is live, Coalesce waits for out to take each event; a slow
// reader of out therefore stalls the reading of in. When in is closed,
// Coalesce flushes the pending batch the same way and returns. When ctx
// ends, it flushes the pending batch with non-blocking sends: what out can
// take at that instant (buffer space or a waiting reader) is delivered, the
// rest is dropped, and events still queued in in are not read.
//
// Coalesce returns an error wrapping ErrInvalidCoalesceConfig if cfg is
// invalid, an error wrapping both ErrEventsDropped and the context's cause
// if any accepted event was dropped, and nil otherwise.
func Coalesce(ctx context.Context, cfg CoalesceConfig, in <-chan Event, out chan<- Event) error {
	return coalesce(ctx, cfg, in, out, &memberBatch{})
}

// CoalesceUserEvents is Coalesce for user events flagged Coalesce, batched
// by a [UserCoalescer]: of a burst of events with one name, only those of
// the latest LTime are delivered. Every other event passes at once.
func CoalesceUserEvents(ctx context.Context, cfg CoalesceConfig, in <-chan Event, out chan<- Event) error {
	return coalesce(ctx, cfg, in, out, &userBatch{})
}

// batcher is what the loop needs of a coalescer.
type batcher interface {
	// add takes e into the batch and reports whether it did; an event it
	// does not take is forwarded at once.
	add(e Event) bool
	pending() int
	flush() []Event
}

type memberBatch struct{ c MemberCoalescer }

func (b *memberBatch) add(e Event) bool {
	me, ok := asMemberEvent(e)
	return ok && b.c.Add(me)
}
func (b *memberBatch) pending() int   { return b.c.Pending() }
func (b *memberBatch) flush() []Event { return asEvents(b.c.Flush()) }

type userBatch struct{ c UserCoalescer }

func (b *userBatch) add(e Event) bool {
	ue, ok := e.(UserEvent)
	return ok && b.c.Add(ue)
}
func (b *userBatch) pending() int   { return b.c.Pending() }
func (b *userBatch) flush() []Event { return asEvents(b.c.Flush()) }

// asEvents converts a slice of one event type to a slice of Event.
func asEvents[E Event](es []E) []Event {
	out := make([]Event, 0, len(es))
	for _, e := range es {
		out = append(out, e)
	}
	return out
}

func coalesce(ctx context.Context, cfg CoalesceConfig, in <-chan Event, out chan<- Event, batch batcher) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("coalesce: %w", err)
	}
	l := coalesceLoop{ctx: ctx, out: out}
	quiet := time.NewTimer(cfg.Quiet)
	quiet.Stop()
	defer quiet.Stop()
	maxDelay := time.NewTimer(cfg.MaxDelay)
	maxDelay.Stop()
	defer maxDelay.Stop()
	// quietC and maxC are the timers' channels while a batch is pending and
	// nil otherwise, so that the select ignores idle timers.
	var quietC, maxC <-chan time.Time

	flush := func() {
		quiet.Stop()
		maxDelay.Stop()
		quietC, maxC = nil, nil
		for _, e := range batch.flush() {
			l.send(e)
		}
	}
	for {
		select {
		case <-ctx.Done():
			flush()
			return l.err()
		case <-quietC:
			flush()
		case <-maxC:
			flush()
		case e, ok := <-in:
			if !ok {
				flush()
				return l.err()
			}
			switch {
			case !batch.add(e):
				l.send(e)
			case batch.pending() > 0:
				quiet.Reset(cfg.Quiet)
				quietC = quiet.C
				if maxC == nil {
					maxDelay.Reset(cfg.MaxDelay)
					maxC = maxDelay.C
				}
			}
		}
		// Prefer shutting down over reading more once ctx is done; a drop
		// implies that it is.
		if ctx.Err() != nil {
			flush()
			return l.err()
		}
	}
}

// coalesceLoop is the state Coalesce shares with its helpers.
type coalesceLoop struct {
	ctx     context.Context
	out     chan<- Event
	dropped int
}

// send delivers e to out. While ctx is live it waits for out; once ctx is
// done it delivers only if out can take e at once, and counts a drop if not.
func (l *coalesceLoop) send(e Event) {
	select {
	case l.out <- e:
		return
	default:
	}
	if l.ctx.Err() == nil {
		select {
		case l.out <- e:
			return
		case <-l.ctx.Done():
		}
		// Both cases may have been ready; give out one more chance.
		select {
		case l.out <- e:
			return
		default:
		}
	}
	l.dropped++
}

// err returns the error Coalesce reports on exit.
func (l *coalesceLoop) err() error {
	if l.dropped == 0 {
		return nil
	}
	return fmt.Errorf("coalesce: %d %w: %w", l.dropped, ErrEventsDropped, context.Cause(l.ctx))
}

// asMemberEvent returns e as a MemberEvent if the coalescer can batch it.
func asMemberEvent(e Event) (MemberEvent, bool) {
	switch v := e.(type) {
	case MemberEvent:
		return v, v.Type.IsMember()
	case *MemberEvent:
		if v != nil {
			return *v, v.Type.IsMember()
		}
	}
	return MemberEvent{}, false
}
