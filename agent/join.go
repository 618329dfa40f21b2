package agent

import (
	"fmt"
	"slices"
	"time"

	"github.com/agentd/agent/events"
)

// DefaultRetryInterval is Serf's retry_interval.
const DefaultRetryInterval = 30 * time.Second

// startJoinLoops starts, in the background, the retry join (retry_join:
// until one address answers or retry_max_attempts tries failed; giving up
// ends the agent with an error, as in Serf) and the heal loop (below).
// Names are resolved again on every try, and a name with several
// addresses joins all of them (memberlist does both).
func (a *Agent) startJoinLoops() {
	seeds := slices.Concat(a.cfg.RetryJoin, a.cfg.StartJoin)
	if len(a.cfg.RetryJoin) > 0 {
		a.goLoop(func() {
			if err := a.retryJoin(); err != nil {
				a.fail(err)
			}
		})
	}
	if len(seeds) > 0 {
		a.goLoop(func() { a.healLoop(seeds) })
	}
}

// retryJoin tries the retry_join addresses every RetryInterval until a
// try joins at least one.
func (a *Agent) retryJoin() error {
	for attempt := 1; ; attempt++ {
		n, err := a.node.Join(a.ctx, a.cfg.RetryJoin, a.cfg.ReplayOnJoin)
		if n > 0 {
			a.logger.Info("retry join: joined", "members_answered", n, "attempt", attempt)
			return nil
		}
		if a.stopped() {
			return nil
		}
		if max := a.cfg.RetryMaxAttempts; max > 0 && attempt >= max {
			return fmt.Errorf("retry join: gave up after %d attempts: %w", attempt, err)
		}
		a.logger.Warn("retry join: no address answered; retrying", "attempt", attempt, "in", a.cfg.RetryInterval, "err", err)
		if !a.sleep(a.cfg.RetryInterval) {
			return nil
		}
	}
}

// healLoop keeps the cluster whole after a long partition. Every
// RetryInterval it compares the members it has seen alive (minus those
// that left gracefully) with the ones alive now; while any is missing,
// failed or already reaped, it joins the seed addresses (retry_join and
// start_join) again. The reconnect loop retries failed members only until
// reconnect_timeout; this also merges two halves that lost each other for
// longer, through whichever seed is on the other side.
func (a *Agent) healLoop(seeds []string) {
	wanted := map[string]bool{}
	for a.sleep(a.cfg.RetryInterval) {
		var missing []string
		alive := map[string]bool{}
		for _, m := range a.node.Members() {
			switch m.Status {
			case events.StatusAlive:
				alive[m.Name] = true
				wanted[m.Name] = true
			case events.StatusLeft, events.StatusLeaving:
				delete(wanted, m.Name)
			}
		}
		for name := range wanted {
			if !alive[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			continue
		}
		slices.Sort(missing)
		n, err := a.node.Join(a.ctx, seeds, true)
		a.logger.Info("members missing; joined the seeds again", "missing", missing, "seeds_answered", n, "err", err)
	}
}

// goLoop runs f in a goroutine Shutdown waits for.
func (a *Agent) goLoop(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// sleep waits d; false means the agent is stopping.
func (a *Agent) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.stop:
		return false
	}
}

func (a *Agent) stopped() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// fail ends the agent with err: Run returns it.
func (a *Agent) fail(err error) {
	a.logger.Error("agent failing", "err", err)
	select {
	case a.failed <- err:
	default:
	}
}

// Failed delivers an error that ends the agent (a retry join that gave up).
func (a *Agent) Failed() <-chan error { return a.failed }
