package agent

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogHubMonitor(t *testing.T) {
	var out bytes.Buffer
	level := new(slog.LevelVar)
	level.Set(slog.LevelInfo)
	hub := NewLogHub()
	log := NewLogger(&out, level, false, hub)

	log.Info("before monitor", "k", "v")
	log.Debug("debug before monitor")
	recent, live, cancel := hub.SubscribeLogs(slog.LevelDebug)
	if len(recent) != 1 || !strings.Contains(recent[0], "before monitor") || !strings.Contains(recent[0], "k=v") {
		t.Fatalf("recent = %q; want the one info line logged before", recent)
	}
	log.With("node", "a").Debug("debug while monitored")
	select {
	case line := <-live:
		if !strings.Contains(line, "debug while monitored") || !strings.Contains(line, "node=a") || !strings.Contains(line, "level=DEBUG") {
			t.Errorf("live line = %q; want the debug record with its attrs", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live line within 5s")
	}
	if strings.Contains(out.String(), "debug") {
		t.Errorf("stderr got a debug line at info level: %q", out.String())
	}
	log.Log(t.Context(), LevelTrace, "trace line")
	log.Error("boom")
	select {
	case line := <-live:
		if !strings.Contains(line, "level=ERR") {
			t.Errorf("live line = %q; want level=ERR (trace filtered by the monitor's level)", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live error line within 5s")
	}
	cancel()
	cancel()
	log.Error("after cancel")
	select {
	case line := <-live:
		t.Errorf("got %q after cancel; want nothing", line)
	default:
	}
}
