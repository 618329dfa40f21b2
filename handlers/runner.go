package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentd/agent/events"
	metrics "github.com/armon/go-metrics"
)

// Defaults for Config.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultQueueSize = 1024
	DefaultShell     = "/bin/sh"
)

// Config configures a Runner.
type Config struct {
	// Handlers are the handlers to run; SetHandlers replaces them.
	Handlers []Spec
	// Timeout bounds each run; at the timeout the handler's process group
	// is killed. Zero means DefaultTimeout.
	Timeout time.Duration
	// QueueSize is how many events wait per handler; beyond it the oldest
	// is dropped, counted and logged. Zero means DefaultQueueSize.
	QueueSize int
	// Self returns the local member, for SERF_SELF_* and SERF_TAG_*.
	Self func() events.Member
	// Env is the environment handlers inherit; nil means the agent's own.
	Env []string
	// Shell runs each command as Shell -c COMMAND; "" means DefaultShell.
	Shell  string
	Logger *slog.Logger
}

// Runner runs handler scripts for events. Each handler has its own queue
// and goroutine: it runs its events one at a time, in order, while other
// handlers run theirs concurrently, so a slow handler delays only itself,
// and Handle never blocks.
type Runner struct {
	cfg    Config
	ctx    context.Context // ends at Close: running handlers are killed
	cancel context.CancelFunc

	mu      sync.Mutex
	workers []*worker
	closed  bool
	wg      sync.WaitGroup

	stats counters
}

type counters struct {
	runs, failures, timeouts, dropped atomic.Uint64
}

// Stats are a Runner's running totals.
type Stats struct {
	Handlers int    // handlers configured
	Runs     uint64 // runs finished
	Failures uint64 // runs that exited non-zero, failed to start, or timed out
	Timeouts uint64 // runs killed at the timeout
	Dropped  uint64 // events dropped from full queues
}

// NewRunner starts a runner with cfg's handlers.
func NewRunner(cfg Config) *Runner {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Shell == "" {
		cfg.Shell = DefaultShell
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Self == nil {
		cfg.Self = func() events.Member { return events.Member{} }
	}
	r := &Runner{cfg: cfg}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.SetHandlers(cfg.Handlers)
	return r
}

// Handle queues e for every handler whose filters match it. It never
// blocks.
func (r *Runner) Handle(e events.Event) {
	inv, ok := newInvocation(r.cfg.Self(), e)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, w := range r.workers {
		if w.spec.Matches(e.EventType(), inv.name) {
			w.push(job{event: e, inv: inv})
		}
	}
}

// Handlers returns the handlers in force, in order.
func (r *Runner) Handlers() []Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Spec, len(r.workers))
	for i, w := range r.workers {
		out[i] = w.spec
	}
	return out
}

// SetHandlers replaces the handlers (on a configuration reload). A handler
// whose spec is unchanged keeps its queue; a removed one finishes its
// current run and drops what it had queued.
func (r *Runner) SetHandlers(specs []Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	old := map[string][]*worker{}
	for _, w := range r.workers {
		k := w.spec.String()
		old[k] = append(old[k], w)
	}
	var next []*worker
	for _, s := range specs {
		k := s.String()
		if ws := old[k]; len(ws) > 0 {
			next, old[k] = append(next, ws[0]), ws[1:]
			continue
		}
		w := newWorker(r, s)
		next = append(next, w)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			w.loop()
		}()
	}
	for _, ws := range old {
		for _, w := range ws {
			if n := w.stop(); n > 0 {
				r.cfg.Logger.Warn("event handler removed; dropping its queued events", "handler", w.spec.String(), "dropped", n)
			}
		}
	}
	r.workers = next
}

// Close kills running handlers, drops queued events and waits for every
// handler goroutine to end.
func (r *Runner) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		for _, w := range r.workers {
			w.stop()
		}
		r.workers = nil
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// Stats returns the running totals.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	n := len(r.workers)
	r.mu.Unlock()
	return Stats{
		Handlers: n,
		Runs:     r.stats.runs.Load(),
		Failures: r.stats.failures.Load(),
		Timeouts: r.stats.timeouts.Load(),
		Dropped:  r.stats.dropped.Load(),
	}
}

// job is one event waiting for one handler.
type job struct {
	event events.Event
	inv   invocation
}

// worker runs one handler's queue.
type worker struct {
	r    *Runner
	spec Spec
	wake chan struct{}

	mu      sync.Mutex
	queue   []job
	stopped bool
}

func newWorker(r *Runner, s Spec) *worker {
	return &worker{r: r, spec: s, wake: make(chan struct{}, 1)}
}

// push queues j, dropping the oldest job when the queue is full.
func (w *worker) push(j job) {
	w.mu.Lock()
	if len(w.queue) >= w.r.cfg.QueueSize {
		dropped := w.queue[0]
		w.queue = w.queue[1:]
		n := w.r.stats.dropped.Add(1)
		w.r.cfg.Logger.Warn("event handler queue full; dropped the oldest event",
			"handler", w.spec.String(), "event", dropped.event.String(), "queue", w.r.cfg.QueueSize, "dropped_total", n)
	}
	w.queue = append(w.queue, j)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop ends the worker after its current run and returns how many queued
// jobs it dropped.
func (w *worker) stop() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.queue)
	w.queue, w.stopped = nil, true
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return n
}

func (w *worker) loop() {
	for {
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			select {
			case <-w.wake:
				continue
			case <-w.r.ctx.Done():
				return
			}
		}
		j := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		w.run(j)
	}
}

// run runs the handler once for j and logs how it went.
func (w *worker) run(j job) {
	r := w.r
	env := append(append([]string(nil), r.cfg.Env...), j.inv.env...)
	res := runCommand(r.ctx, r.cfg.Shell, w.spec.Command, env, j.inv.stdin, r.cfg.Timeout)
	r.stats.runs.Add(1)
	labels := []metrics.Label{{Name: "handler", Value: w.spec.Command}}
	metrics.IncrCounterWithLabels([]string{"agent", "handler", "runs"}, 1, labels)
	metrics.AddSampleWithLabels([]string{"agent", "handler", "duration"}, float32(res.took.Seconds()*1000), labels)
	if res.timedOut {
		metrics.IncrCounterWithLabels([]string{"agent", "handler", "timeouts"}, 1, labels)
	}
	attrs := []any{"handler", w.spec.Command, "event", j.event.EventType().String(), "took", res.took.Round(time.Millisecond), "exit", res.exitCode}
	if res.dropped > 0 {
		attrs = append(attrs, "output_truncated", fmt.Sprintf("kept the last %d of %d bytes", len(res.output), len(res.output)+res.dropped))
	}
	attrs = append(attrs, "output", string(res.output))
	switch {
	case res.timedOut:
		r.stats.failures.Add(1)
		r.stats.timeouts.Add(1)
		r.cfg.Logger.Error("event handler timed out; killed its process group", append(attrs, "timeout", r.cfg.Timeout)...)
	case res.err != nil && r.ctx.Err() != nil:
		r.cfg.Logger.Warn("event handler killed at shutdown", attrs...)
	case res.err != nil:
		r.stats.failures.Add(1)
		r.cfg.Logger.Warn("event handler failed", append(attrs, "err", res.err)...)
	default:
		r.cfg.Logger.Debug("event handler ran", attrs...)
		// A query handler's output, on success, is the node's answer.
		if q, ok := j.event.(*events.QueryEvent); ok && len(res.output) > 0 {
			if err := q.Respond(res.output); err != nil {
				r.cfg.Logger.Warn("query handler: response not sent", "handler", w.spec.Command, "query", q.Name, "err", err)
			}
		}
	}
}
