package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/internal/bench"
)

func TestSpliceKeepsOutside(t *testing.T) {
	before := "# Perf\n\nIntro, kept  as is.\r\n" + beginMarker
	after := endMarker + "\n\nOutro\nwithout final newline"
	doc := before + "\nold table\nold picture\n" + after
	got, err := splice(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := before + "\n\nnew table\n\n" + after; got != want {
		t.Errorf("splice:\n%q\nwant:\n%q", got, want)
	}
	again, err := splice(got, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if again != got {
		t.Errorf("splicing the same block twice changed the doc:\n%q\nthen:\n%q", got, again)
	}
}

func TestSpliceErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"begin without end", "a\n" + beginMarker + "\nb\n", beginMarker + " without " + endMarker},
		{"end without begin", "a\n" + endMarker + "\n", "no " + beginMarker},
		{"end before begin", endMarker + "\n" + beginMarker + "\n", endMarker + " before " + beginMarker},
		{"two begins", beginMarker + beginMarker + endMarker, "want one of each"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := splice(tt.doc, "x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("splice error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestUpdateDocsCreates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "performance.md")
	if err := updateDocs(file, "TABLE\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"# Performance", "`make bench`", "lower-is-better", beginMarker + "\n\nTABLE\n\n" + endMarker + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("created doc lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, newDoc[:strings.Index(newDoc, beginMarker)]) {
		t.Errorf("created doc does not start with the standard text:\n%s", got)
	}
}

func TestUpdateDocsRewrites(t *testing.T) {
	file := filepath.Join(t.TempDir(), "performance.md")
	before, after := "# Mine\n\nHand-written.\n\n"+beginMarker, endMarker+"\n\nMore by hand.\n"
	if err := os.WriteFile(file, []byte(before+"\nstale\n"+after), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDocs(file, "fresh"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := before + "\n\nfresh\n\n" + after; string(b) != want {
		t.Errorf("doc:\n%q\nwant:\n%q", b, want)
	}
}

func TestUpdateDocsAppendsMarkers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "performance.md")
	if err := os.WriteFile(file, []byte("# Mine\nno markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDocs(file, "fresh"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Mine\nno markers\n\n" + beginMarker + "\n\nfresh\n\n" + endMarker + "\n"; string(b) != want {
		t.Errorf("doc:\n%q\nwant:\n%q", b, want)
	}
}

func TestUpdateDocsBeginWithoutEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "performance.md")
	orig := "# Mine\n" + beginMarker + "\nhalf\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	err := updateDocs(file, "fresh")
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "without "+endMarker) {
		t.Fatalf("updateDocs error = %v, want one naming the file and the missing end marker", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != orig {
		t.Errorf("a failed update changed the file:\n%q", b)
	}
}

func TestSection(t *testing.T) {
	start := time.Date(2026, 11, 23, 15, 30, 12, 0, time.UTC)
	res := &bench.Results{
		Started:  start,
		Finished: start.Add(4*time.Minute + 10*time.Second + 400*time.Millisecond),
		Machine:  bench.Machine{OS: "linux", Arch: "amd64", CPUs: 2, CPUModel: "Test CPU @ 2GHz", GoVersion: "go1.26.0"},
		Rows:     []bench.Row{{Scenario: "join convergence", Metric: "all alive everywhere", N: 5, Unit: "s", Ours: 1, Serf: bench.Float(2)}},
	}
	got := section(res, start, plots[:1])
	for _, want := range []string{
		"Run of 2026-11-23 15:30 UTC, taking 4m10s, on linux/amd64, 2 CPUs (Test CPU @ 2GHz), go1.26.0.",
		"| join convergence | all alive everywhere |  | 5 | 1 | 2 | 0.500 | s |",
		"![Join convergence time versus cluster size](bench/convergence.png)",
		"[bench/latest.json](bench/latest.json)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "loss.png") {
		t.Errorf("section links a plot that was not drawn:\n%s", got)
	}
}
