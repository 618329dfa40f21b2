package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Log levels beyond slog's own: Serf's TRACE sits below debug.
const (
	LevelTrace = slog.LevelDebug - 4
)

// SlogLevel maps a normalized level name (see ParseLogLevel) to slog's.
func SlogLevel(name string) slog.Level {
	switch name {
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "err":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// recentLogLines is how many lines a monitor sees replayed when it attaches.
const recentLogLines = 256

// LogHub keeps the agent's recent log lines and streams new ones to
// monitors (`agent monitor`), each at its own level, independent of the
// level the agent logs to stderr at.
type LogHub struct {
	mu     sync.Mutex
	ring   []hubLine
	next   int
	filled bool
	subs   map[*logSub]struct{}
	// minSub is the lowest level any monitor wants (MaxInt32 when none).
	minSub atomic.Int64
}

type hubLine struct {
	level slog.Level
	text  string
}

type logSub struct {
	min  slog.Level
	ch   chan string
	done chan struct{}
}

// NewLogHub returns an empty hub.
func NewLogHub() *LogHub {
	h := &LogHub{ring: make([]hubLine, recentLogLines), subs: map[*logSub]struct{}{}}
	h.minSub.Store(math.MaxInt32)
	return h
}

// wants reports whether some monitor wants lines at level l.
func (h *LogHub) wants(l slog.Level) bool { return int64(l) >= h.minSub.Load() }

// updateMinLocked recomputes minSub; h.mu must be held.
func (h *LogHub) updateMinLocked() {
	m := int64(math.MaxInt32)
	for s := range h.subs {
		m = min(m, int64(s.min))
	}
	h.minSub.Store(m)
}

// SubscribeLogs returns the buffered lines at min or above, oldest first, and
// a channel receiving every later line at min or above until cancel.
func (h *LogHub) SubscribeLogs(min slog.Level) (recent []string, live <-chan string, cancel func()) {
	s := &logSub{min: min, ch: make(chan string, 64), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.next
	if h.filled {
		n = len(h.ring)
	}
	start := 0
	if h.filled {
		start = h.next
	}
	for i := range n {
		if l := h.ring[(start+i)%len(h.ring)]; l.level >= min {
			recent = append(recent, l.text)
		}
	}
	h.subs[s] = struct{}{}
	h.updateMinLocked()
	var once sync.Once
	return recent, s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.updateMinLocked()
			h.mu.Unlock()
			close(s.done)
		})
	}
}

// publish records a line and hands it to every monitor that wants it. A
// monitor that is not keeping up loses the line rather than stalling logging.
func (h *LogHub) publish(level slog.Level, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = hubLine{level: level, text: text}
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.filled = true
	}
	for s := range h.subs {
		if level < s.min {
			continue
		}
		select {
		case s.ch <- text:
		case <-s.done:
		default:
		}
	}
}

// NewLogger builds the agent's logger: records at or above level go to w
// (as text, or JSON with asJSON), and every record at any level goes to hub
// as a text line. level can be changed while the agent runs (SIGHUP).
func NewLogger(w io.Writer, level *slog.LevelVar, asJSON bool, hub *LogHub) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: levelNames}
	var out slog.Handler = slog.NewTextHandler(w, opts)
	if asJSON {
		out = slog.NewJSONHandler(w, opts)
	}
	if hub == nil {
		return slog.New(newRateLimited(out, RepeatInterval, time.Now))
	}
	sink := &hubSink{hub: hub}
	text := slog.NewTextHandler(sink, &slog.HandlerOptions{Level: LevelTrace, ReplaceAttr: levelNames})
	return slog.New(newRateLimited(&teeHandler{out: out, text: text, sink: sink}, RepeatInterval, time.Now))
}

// levelNames prints our level names (TRACE, ERR) instead of slog's offsets.
func levelNames(_ []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey {
		return a
	}
	if l, ok := a.Value.Any().(slog.Level); ok {
		switch {
		case l < slog.LevelDebug:
			a.Value = slog.StringValue("TRACE")
		case l >= slog.LevelError:
			a.Value = slog.StringValue("ERR")
		}
	}
	return a
}

// hubSink receives one formatted record per Write and publishes it at the
// level teeHandler set just before.
type hubSink struct {
	mu    sync.Mutex
	hub   *LogHub
	level slog.Level
}

func (s *hubSink) Write(p []byte) (int, error) {
	s.hub.publish(s.level, string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// teeHandler sends records to the output handler (if enabled there) and to
// the hub, always.
type teeHandler struct {
	out  slog.Handler
	text slog.Handler
	sink *hubSink
}

// Enabled: formatting costs, so a record is built only if stderr or some
// monitor wants it. The replay buffer therefore holds what was logged at the
// agent's level, plus whatever a monitor asked for while attached.
func (t *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.out.Enabled(ctx, l) || t.sink.hub.wants(l)
}

func (t *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.out.Enabled(ctx, r.Level) {
		err = t.out.Handle(ctx, r)
	}
	if !t.sink.hub.wants(r.Level) && !t.out.Enabled(ctx, r.Level) {
		return err
	}
	t.sink.mu.Lock()
	t.sink.level = r.Level
	_ = t.text.Handle(ctx, r)
	t.sink.mu.Unlock()
	return err
}

func (t *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{out: t.out.WithAttrs(as), text: t.text.WithAttrs(as), sink: t.sink}
}

func (t *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{out: t.out.WithGroup(name), text: t.text.WithGroup(name), sink: t.sink}
}
