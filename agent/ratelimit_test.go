package agent

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRepeatedWarningsAreRateLimited(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	h := newRateLimited(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}), 10*time.Second, func() time.Time { return now })
	log := slog.New(h).With("component", "gossip")
	for i := range 50 {
		log.Warn("broadcast queue deep", "queue", "intents", "depth", 1000+i)
		log.Warn("Refuting a suspect message (from: node-" + string(rune('a'+i%26)) + ")")
		log.Info("member event", "member", "web-1") // below Warn: never limited
	}
	log.Warn("event handler failed", "handler", "/a.sh")
	log.Warn("event handler failed", "handler", "/b.sh") // another kind
	count := func(s string) int { return strings.Count(out.String(), s) }
	if got := count("broadcast queue deep"); got != 1 {
		t.Errorf("queue warning logged %d times in one interval; want 1", got)
	}
	if got := count("Refuting a suspect message"); got != 1 {
		t.Errorf("refute warning logged %d times; want 1", got)
	}
	if got := count("member event"); got != 50 {
		t.Errorf("info lines %d; want all 50", got)
	}
	if got := count("event handler failed"); got != 2 {
		t.Errorf("two handlers' failures logged %d times; want 2", got)
	}
	now = now.Add(11 * time.Second)
	log.Warn("broadcast queue deep", "queue", "intents", "depth", 5000)
	if !strings.Contains(out.String(), "depth=5000 repeats_suppressed=49") {
		t.Errorf("after the interval the warning does not report the suppressed count:\n%s", out.String())
	}
}
