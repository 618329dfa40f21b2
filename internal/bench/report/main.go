// Command report turns one run of the benchmark suite into something people
// can read and compare. It merges the bench.Results fragments the scenarios
// wrote into a directory, prints them as one table, keeps the run as JSON
// (a timestamped copy for history and docs/bench/latest.json), draws PNG
// plots of ours against Serf's figures into docs/bench/ and rewrites the
// generated part of docs/performance.md.
//
// Usage:
//
//	go run ./internal/bench/report -in DIR -docs docs [-history docs/bench/results]
//
// A plot whose rows the run lacks is skipped with a message on stderr; it
// never fails the report.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/agentd/agent/internal/bench"
)

// stampLayout names a run's history file after its UTC start, to the minute.
const stampLayout = "2006-01-02T1504Z"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, time.Now); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run does the whole report: args are the command line without the program
// name; the table goes to stdout, progress and skipped plots to stderr; now
// dates a run whose fragments carry no start time.
func run(args []string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "directory of the scenarios' *.json result fragments (required)")
	docs := fs.String("docs", "docs", "documentation directory holding performance.md; plots and latest.json go to its bench/")
	history := fs.String("history", "", "directory keeping every run as <UTC start>.json (default <docs>/bench/results)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *in == "" {
		return errors.New("-in is required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *history == "" {
		*history = filepath.Join(*docs, "bench", "results")
	}

	res, err := bench.Merge(*in)
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		return fmt.Errorf("no rows in the fragments in %s", *in)
	}
	res.Rows = arrange(res.Rows)
	if err := writeTable(stdout, res.Rows); err != nil {
		return fmt.Errorf("print table: %w", err)
	}

	at := res.Started
	if at.IsZero() {
		at = now()
	}
	at = at.UTC()
	benchDir := filepath.Join(*docs, "bench")
	histPath := filepath.Join(*history, at.Format(stampLayout)+".json")
	latest := filepath.Join(benchDir, "latest.json")
	for _, p := range []string{histPath, latest} {
		if err := res.Write(p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	drawn, err := writePlots(res.Rows, benchDir, plots, stderr)
	if err != nil {
		return err
	}
	perf := filepath.Join(*docs, "performance.md")
	if err := updateDocs(perf, section(res, at, drawn)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "report: wrote %s, %s, %d plot(s) in %s and %s\n", histPath, latest, len(drawn), benchDir, perf)
	return nil
}
