package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentd/agent/internal/bench"
)

// The fleet benchmark's figures: one run's measurements folded into
// medians and worst cases, and the rows of the suite's table.

func reportFleet(b *testing.B, runs []fleetRun) {
	if len(runs) == 0 {
		return
	}
	s := summarize(runs)
	b.ReportMetric(s.convergeMedian.Seconds(), "converge-median-s")
	b.ReportMetric(s.convergeWorst.Seconds(), "converge-worst-s")
	b.ReportMetric(s.spawnMedian.Seconds(), "spawn-s")
	if s.events > 0 {
		b.ReportMetric(ms(s.streamMedian), "event-stream-median-ms")
		b.ReportMetric(ms(s.streamWorst), "event-stream-last-ms")
		b.ReportMetric(ms(s.handlerMedian), "event-handler-median-ms")
		b.ReportMetric(ms(s.handlerWorst), "event-handler-last-ms")
	}
}

// fleetSummary folds the runs of one size: the median and the worst of
// the convergence times; for the event, the median of the runs' median
// agents and the worst run's last agent.
type fleetSummary struct {
	runs, converged, events         int
	convergeMedian, convergeWorst   time.Duration
	spawnMedian                     time.Duration
	streamMedian, streamWorst       time.Duration
	handlerMedian, handlerWorst     time.Duration
	floorMedian, floorWorst         time.Duration
	streamWithin2s, handlerWithin2s float64 // share of all deliveries
}

func summarize(runs []fleetRun) fleetSummary {
	s := fleetSummary{runs: len(runs)}
	var conv, spawn, sMed, hMed, fMed []time.Duration
	var sAll, hAll int
	var sIn, hIn int
	for _, r := range runs {
		conv = append(conv, r.converge)
		spawn = append(spawn, r.spawn)
		if r.converged {
			s.converged++
		}
		if len(r.stream) == 0 {
			continue
		}
		s.events++
		sMed, hMed, fMed = append(sMed, medianOf(r.stream)), append(hMed, medianOf(r.handler)), append(fMed, medianOf(r.floor))
		s.streamWorst = max(s.streamWorst, slices.Max(r.stream))
		s.handlerWorst = max(s.handlerWorst, slices.Max(r.handler))
		s.floorWorst = max(s.floorWorst, slices.Max(r.floor))
		for _, d := range r.stream {
			sAll++
			if d <= 2*time.Second {
				sIn++
			}
		}
		for _, d := range r.handler {
			hAll++
			if d <= 2*time.Second {
				hIn++
			}
		}
	}
	s.convergeMedian, s.convergeWorst, s.spawnMedian = medianOf(conv), slices.Max(conv), medianOf(spawn)
	if s.events > 0 {
		s.streamMedian, s.handlerMedian, s.floorMedian = medianOf(sMed), medianOf(hMed), medianOf(fMed)
		s.streamWithin2s, s.handlerWithin2s = 100*float64(sIn)/float64(sAll), 100*float64(hIn)/float64(hAll)
	}
	return s
}

// fleetRows turns the runs of one size into suite rows, ours beside
// Serf's (nil: not measured).
func fleetRows(n int, ours, serf []fleetRun) []bench.Row {
	if len(ours) == 0 {
		return nil
	}
	o := summarize(ours)
	var t *fleetSummary
	if len(serf) > 0 {
		s := summarize(serf)
		t = &s
	}
	pick := func(v func(fleetSummary) float64, ok func(fleetSummary) bool) *float64 {
		if t == nil || !ok(*t) {
			return nil
		}
		return bench.Float(v(*t))
	}
	always := func(fleetSummary) bool { return true }
	withEvent := func(s fleetSummary) bool { return s.events > 0 }
	runsNote := func(what string) string {
		note := fmt.Sprintf("ours: %d runs (%d converged)", o.runs, o.converged)
		if t != nil {
			note += fmt.Sprintf("; Serf: %d run(s) (%d converged, limit 150 s)", t.runs, t.converged)
		}
		return note + what
	}
	row := func(metric, unit string, v func(fleetSummary) float64, ok func(fleetSummary) bool, note string) bench.Row {
		return bench.Row{Scenario: "agent fleet", Metric: metric, N: n, Unit: unit, Ours: v(o), Serf: pick(v, ok), Note: note}
	}
	rows := []bench.Row{
		row("all alive everywhere after the last start, median run", "s", func(s fleetSummary) float64 { return s.convergeMedian.Seconds() }, always, runsNote("")),
		row("all alive everywhere after the last start, worst run", "s", func(s fleetSummary) float64 { return s.convergeWorst.Seconds() }, always, runsNote("")),
		row("time to start the other agents (exec of each)", "s", func(s fleetSummary) float64 { return s.spawnMedian.Seconds() }, always, "median run; not part of the convergence time"),
	}
	if o.events == 0 {
		return rows
	}
	rows = append(rows,
		row("user event to each agent's event stream, median agent", "ms", func(s fleetSummary) float64 { return ms(s.streamMedian) }, withEvent, "an event no agent has a handler for; median over runs of each run's median agent; from the start of the `event` command"),
		row("user event to each agent's event stream, last agent of the worst run", "ms", func(s fleetSummary) float64 { return ms(s.streamWorst) }, withEvent, ""),
		row("user event to each handler script, median handler", "ms", func(s fleetSummary) float64 { return ms(s.handlerMedian) }, withEvent, fmt.Sprintf("a second event, which every agent's handler (one shell builtin) runs for: %d scripts spawned at once on this machine; see the floor", n)),
		row("user event to each handler script, last handler of the worst run", "ms", func(s fleetSummary) float64 { return ms(s.handlerWorst) }, withEvent, ""),
		row("handlers not run within 2 s", "%", func(s fleetSummary) float64 { return 100 - s.handlerWithin2s }, withEvent, "share of all (agent, run) pairs"),
		bench.Row{Scenario: "agent fleet", Metric: "floor: the handler scripts started at once, median handler", N: n, Unit: "ms", Ours: ms(o.floorMedian),
			Note: "no agent involved: the least the handler rows can take on this machine"},
		bench.Row{Scenario: "agent fleet", Metric: "floor: the handler scripts started at once, last handler of the worst run", N: n, Unit: "ms", Ours: ms(o.floorWorst)},
	)
	return rows
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
