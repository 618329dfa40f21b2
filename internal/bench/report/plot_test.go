package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd/agent/internal/bench"
)

// syntheticRows returns made-up rows for every plot in plots, with packet
// loss at two cluster sizes and one figure without Serf's counterpart.
func syntheticRows() []bench.Row {
	var rows []bench.Row
	for _, spec := range plots {
		if spec.X == byN {
			for _, n := range []int{3, 10, 30} {
				rows = append(rows, bench.Row{Scenario: spec.Scenario, Metric: spec.Metric, N: n, Unit: "s",
					Ours: 0.1 * float64(n), Serf: bench.Float(0.12 * float64(n))})
			}
			continue
		}
		for _, n := range []int{5, 20} {
			for _, x := range []float64{0, 10, 30} {
				r := bench.Row{Scenario: spec.Scenario, Metric: spec.Metric, N: n, X: x, Unit: "count", Ours: x / 10, Serf: bench.Float(x / 5)}
				if x == 30 && n == 20 {
					r.Serf = nil
				}
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// checkPNG fails t unless path holds a non-empty PNG image.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Width < 100 || cfg.Height < 100 {
		t.Errorf("%s is %dx%d pixels", path, cfg.Width, cfg.Height)
	}
}

func TestWritePlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	var stderr strings.Builder
	drawn, err := writePlots(syntheticRows(), dir, plots, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(drawn) != len(plots) {
		t.Errorf("drew %d plots, want %d; stderr: %s", len(drawn), len(plots), stderr.String())
	}
	for _, s := range plots {
		checkPNG(t, filepath.Join(dir, s.File))
	}
	if stderr.Len() != 0 {
		t.Errorf("unexpected messages: %s", stderr.String())
	}
}

func TestWritePlotsMissingRows(t *testing.T) {
	dir := t.TempDir()
	rows := []bench.Row{
		{Scenario: "join convergence", Metric: "all alive everywhere", N: 3, Unit: "s", Ours: 0.3},
		{Scenario: "join convergence", Metric: "all alive everywhere", N: 10, Unit: "s", Ours: 0.9},
		{Scenario: "failure detection", Metric: "failed everywhere", N: 3, Unit: "s", Ours: 2},
		{Scenario: "failure detection", Metric: "failed everywhere", N: 10, Unit: "ms", Ours: 2100},
	}
	var stderr strings.Builder
	drawn, err := writePlots(rows, dir, plots, &stderr)
	if err != nil {
		t.Fatalf("writePlots failed on missing rows: %v", err)
	}
	if len(drawn) != 1 || drawn[0].File != "convergence.png" {
		t.Errorf("drew %v, want only convergence.png", drawn)
	}
	checkPNG(t, filepath.Join(dir, "convergence.png"))
	for _, f := range []string{"loss.png", "failure-detection.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s: stat error %v, want not exist", f, err)
		}
		if !strings.Contains(stderr.String(), "skipping "+f) {
			t.Errorf("no message about skipping %s in %q", f, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "mixed units") {
		t.Errorf("no message about mixed units in %q", stderr.String())
	}
}

func TestWritePlotsAllZero(t *testing.T) {
	dir := t.TempDir()
	rows := []bench.Row{
		{Scenario: "packet loss", Metric: "false failures (events)", N: 5, X: 10, Unit: "count", Ours: 0, Serf: bench.Float(0)},
		{Scenario: "packet loss", Metric: "false failures (events)", N: 5, X: 20, Unit: "count", Ours: 0, Serf: bench.Float(0)},
	}
	drawn, err := writePlots(rows, dir, plots[1:2], &strings.Builder{})
	if err != nil || len(drawn) != 1 {
		t.Fatalf("writePlots = %v, %v; want loss.png drawn", drawn, err)
	}
	checkPNG(t, filepath.Join(dir, "loss.png"))
}

func TestSplit(t *testing.T) {
	var loss []bench.Row
	for _, r := range syntheticRows() {
		if r.Scenario == "packet loss" && r.Metric == "false failures (events)" {
			loss = append(loss, r)
		}
	}
	ss := split(byX, loss)
	if len(ss) != 2 || ss[0].label != "N=5" || ss[1].label != "N=20" {
		t.Fatalf("series %+v, want N=5 and N=20", ss)
	}
	if len(ss[0].ours) != 3 || len(ss[0].serf) != 3 || len(ss[1].ours) != 3 || len(ss[1].serf) != 2 {
		t.Errorf("series point counts: %+v", ss)
	}
	if ss[1].ours[2].X != 30 || ss[1].ours[2].Y != 3 {
		t.Errorf("last point of N=20 = %+v, want {30 3}", ss[1].ours[2])
	}

	one := split(byN, []bench.Row{{N: 10, Ours: 2}, {N: 3, Ours: 1}})
	if len(one) != 1 || one[0].label != "" || one[0].ours[0].X != 3 || len(one[0].serf) != 0 {
		t.Errorf("single series %+v, want unlabelled, ordered by N, no Serf points", one)
	}
}
