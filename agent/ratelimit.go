package agent

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// RepeatInterval is how often one kind of warning is logged at most; the
// repeats in between are counted and reported with the next one.
const RepeatInterval = 10 * time.Second

// maxRepeatKeys bounds the kinds of warnings remembered.
const maxRepeatKeys = 4096

// rateLimited passes records below Warn through, and lets one warning or
// error of each kind through per interval: a kind is the level, the
// message and the attributes with numbers and parenthesized details
// blanked, so "queue depth 1203" and "queue depth 1410" are one kind, as
// are memberlist's "Refuting a suspect message (from: web-17)" for any
// node, while two handlers' failures are two. The next record of a kind
// after a quiet spell carries "repeats_suppressed" when some were dropped.
type rateLimited struct {
	next  slog.Handler
	state *repeatState
	attrs string // the With attributes, part of the kind
}

type repeatState struct {
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	kinds map[string]*repeat
}

type repeat struct {
	last       time.Time
	suppressed int
}

func newRateLimited(next slog.Handler, every time.Duration, now func() time.Time) slog.Handler {
	return &rateLimited{next: next, state: &repeatState{every: every, now: now, kinds: map[string]*repeat{}}}
}

var (
	digitRuns = regexp.MustCompile(`[0-9]+`)
	parens    = regexp.MustCompile(`\([^()]*\)`)
)

func kindOf(level slog.Level, msg, attrs string) string {
	blank := func(s string) string { return digitRuns.ReplaceAllString(parens.ReplaceAllString(s, "(…)"), "#") }
	return level.String() + "|" + blank(msg) + "|" + blank(attrs)
}

func (h *rateLimited) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *rateLimited) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var b strings.Builder
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	kind := kindOf(r.Level, r.Message, b.String())
	s := h.state
	s.mu.Lock()
	now := s.now()
	rep := s.kinds[kind]
	if rep == nil {
		if len(s.kinds) >= maxRepeatKeys {
			clear(s.kinds)
		}
		rep = &repeat{}
		s.kinds[kind] = rep
	} else if now.Sub(rep.last) < s.every {
		rep.suppressed++
		s.mu.Unlock()
		return nil
	}
	suppressed := rep.suppressed
	rep.last, rep.suppressed = now, 0
	s.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeats_suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *rateLimited) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return &rateLimited{next: h.next.WithAttrs(as), state: h.state, attrs: b.String()}
}

func (h *rateLimited) WithGroup(name string) slog.Handler {
	return &rateLimited{next: h.next.WithGroup(name), state: h.state, attrs: h.attrs + " " + name + "."}
}
