// Package bench holds the figures the benchmark suite measures (rows
// comparing our implementation with Serf's) and reads and writes them as
// JSON, so that runs can be kept and compared. The scenarios live in
// internal/bench/suite (in-process clusters) and cmd/agent (agent
// processes); internal/bench/report merges their rows into one table,
// plots and docs/performance.md.
package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Row is one figure of one scenario, ours beside Serf's. Every metric is
// lower-is-better.
type Row struct {
	Scenario string `json:"scenario"` // "join convergence", "packet loss", ...
	Metric   string `json:"metric"`   // what was measured: "all alive everywhere"
	N        int    `json:"n"`        // cluster size
	// Param and X name a fault's level when a scenario has several:
	// Param for people ("20% loss"), X for plots (20).
	Param string  `json:"param,omitempty"`
	X     float64 `json:"x,omitempty"`
	Unit  string  `json:"unit"` // "s", "ms", "KB", "B/s", "count", ...
	Ours  float64 `json:"ours"`
	// Serf is Serf's figure from the same run; nil where Serf has no
	// counterpart or it was not measured.
	Serf *float64 `json:"serf,omitempty"`
	Note string   `json:"note,omitempty"`
}

// Ratio returns Ours/Serf, and false when there is no Serf figure or it is
// zero.
func (r Row) Ratio() (float64, bool) {
	if r.Serf == nil || *r.Serf == 0 {
		return 0, false
	}
	return r.Ours / *r.Serf, true
}

// Key identifies the row within a run.
func (r Row) Key() string {
	return fmt.Sprintf("%s/%s/N=%d/%s", r.Scenario, r.Metric, r.N, r.Param)
}

// Float returns a pointer to v, for Row.Serf.
func Float(v float64) *float64 { return &v }

// Machine describes where a run happened.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
}

// ThisMachine describes the machine the caller runs on.
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Results is one run of the suite, or the part of it one producer wrote.
type Results struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Rows     []Row     `json:"rows"`
}

// Write stores r as indented JSON in path, creating its directory.
func (r *Results) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// Read loads results written by Write.
func Read(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &r, nil
}

// Merge reads every *.json file in dir and returns one Results holding all
// their rows, in the order of the file names and then as written, spanning
// the earliest start and the latest finish, with the machine of the first
// that names one.
func Merge(dir string) (*Results, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("merge results: %w", err)
	}
	if len(paths) == 0 {
		return nil, errors.New("merge results: no *.json files in " + dir)
	}
	out := &Results{}
	for _, p := range paths {
		r, err := Read(p)
		if err != nil {
			return nil, err
		}
		if out.Machine.OS == "" {
			out.Machine = r.Machine
		}
		if out.Started.IsZero() || (!r.Started.IsZero() && r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
		out.Rows = append(out.Rows, r.Rows...)
	}
	if out.Machine.OS == "" {
		out.Machine = ThisMachine()
	}
	return out, nil
}
