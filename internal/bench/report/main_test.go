package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/internal/bench"
)

func TestRun(t *testing.T) {
	in, docs := t.TempDir(), filepath.Join(t.TempDir(), "docs")
	start := time.Date(2026, 11, 23, 15, 30, 5, 0, time.UTC)
	rows := syntheticRows()
	frags := []bench.Results{
		{Started: start.Add(time.Minute), Finished: start.Add(3 * time.Minute), Rows: rows[:6]},
		{Started: start, Finished: start.Add(2 * time.Minute), Rows: rows[6:]},
	}
	for i, f := range frags {
		if err := f.Write(filepath.Join(in, []string{"a.json", "b.json"}[i])); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr strings.Builder
	never := func() time.Time { t.Fatal("run asked for the time though the fragments carry it"); return time.Time{} }
	if err := run([]string{"-in", in, "-docs", docs}, &stdout, &stderr, never); err != nil {
		t.Fatalf("run: %v; stderr: %s", err, stderr.String())
	}

	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(rows)+1 || !strings.HasPrefix(lines[0], "scenario") {
		t.Errorf("table has %d lines, want a header and %d rows:\n%s", len(lines), len(rows), stdout.String())
	}

	hist, err := bench.Read(filepath.Join(docs, "bench", "results", "2026-11-23T1530Z.json"))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := bench.Read(filepath.Join(docs, "bench", "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*bench.Results{hist, latest} {
		if len(r.Rows) != len(rows) || !r.Started.Equal(start) || !r.Finished.Equal(start.Add(3*time.Minute)) {
			t.Errorf("stored run: %d rows from %v to %v, want %d rows from %v to %v", len(r.Rows), r.Started, r.Finished, len(rows), start, start.Add(3*time.Minute))
		}
	}

	for _, s := range plots {
		checkPNG(t, filepath.Join(docs, "bench", s.File))
	}
	b, err := os.ReadFile(filepath.Join(docs, "performance.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Run of 2026-11-23 15:30 UTC, taking 3m0s", "](bench/loss.png)", "| packet loss | false failures (events) |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("performance.md lacks %q", want)
		}
	}
}

func TestRunHistoryFlag(t *testing.T) {
	in, docs, hist := t.TempDir(), t.TempDir(), t.TempDir()
	res := bench.Results{Rows: []bench.Row{{Scenario: "s", Metric: "m", N: 1, Unit: "s", Ours: 1}}}
	if err := res.Write(filepath.Join(in, "x.json")); err != nil {
		t.Fatal(err)
	}
	at := func() time.Time { return time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)) }
	var stderr strings.Builder
	if err := run([]string{"-in", in, "-docs", docs, "-history", hist}, &strings.Builder{}, &stderr, at); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(hist, "2027-01-02T0204Z.json")); err != nil {
		t.Errorf("history file of an undated run: %v", err)
	}
	if n := strings.Count(stderr.String(), "skipping"); n != len(plots) {
		t.Errorf("%d skip messages, want %d: %s", n, len(plots), stderr.String())
	}
}

func TestRunErrors(t *testing.T) {
	empty := t.TempDir()
	noRows := t.TempDir()
	if err := (&bench.Results{}).Write(filepath.Join(noRows, "x.json")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no -in", []string{"-docs", t.TempDir()}, "-in is required"},
		{"no fragments", []string{"-in", empty, "-docs", t.TempDir()}, "no *.json files"},
		{"no rows", []string{"-in", noRows, "-docs", t.TempDir()}, "no rows"},
		{"extra argument", []string{"-in", noRows, "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, &strings.Builder{}, &strings.Builder{}, time.Now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
