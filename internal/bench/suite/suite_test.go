//go:build !race

package suite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/internal/bench"
)

// outEnv names the directory that receives the suite's rows; without it
// TestSuite skips.
const outEnv = "BENCH_OUT"

// plan says which scenarios run at which sizes, and how often.
type plan struct {
	lifecycle map[int]int // size -> trials: join, steady state, failure, leave
	faults    map[int]int // size -> trials of each fault
	memory    []int
	churn     []int // sizes of the churn scenario, one trial each
}

// fullPlan fits `make bench` in its budget on 2 cores; smokePlan checks
// the harness in seconds.
var (
	fullPlan = plan{
		lifecycle: map[int]int{20: 7, 50: 3, 100: 3, 200: 1},
		faults:    map[int]int{20: 2, 100: 1},
		memory:    []int{20, 100},
		churn:     []int{100},
	}
	smokePlan = plan{
		lifecycle: map[int]int{6: 1},
		faults:    map[int]int{6: 1},
		memory:    []int{6},
		churn:     []int{6},
	}
)

// faults is every fault scenario, in table order. Loss beyond the 40%
// users ask about shows where things break; it runs at the smallest fault
// size only, to keep the suite within its time budget.
func faults() []fault {
	extreme := func(f fault) fault { f.smallestOnly = true; return f }
	return []fault{lossFault(5), lossFault(20), lossFault(40), extreme(lossFault(60)), extreme(lossFault(80)),
		slowFault(500 * time.Millisecond), halves()}
}

// TestSuite runs the full plan and writes its rows to $BENCH_OUT/suite.json.
func TestSuite(t *testing.T) {
	dir := os.Getenv(outEnv)
	if dir == "" {
		t.Skipf("set %s to a directory to run the benchmark suite (make bench does)", outEnv)
	}
	res := &bench.Results{Started: time.Now(), Machine: bench.ThisMachine()}
	res.Rows = runPlan(t, fullPlan)
	res.Finished = time.Now()
	for _, r := range res.Rows {
		t.Logf("%s", describeRow(r))
	}
	if err := res.Write(filepath.Join(dir, "suite.json")); err != nil {
		t.Fatal(err)
	}
}

// TestSuiteSmoke runs every scenario once on a few nodes and checks that
// each produced its figures for both implementations, that no wait ran out
// and that nothing failed that should not have.
func TestSuiteSmoke(t *testing.T) {
	if os.Getenv(outEnv) != "" {
		t.Skip("the full suite runs instead")
	}
	rows := runPlan(t, smokePlan)
	want := []string{
		"join convergence/all alive everywhere", "steady state/bytes sent per node", "steady state/CPU per node",
		"failure detection/failed everywhere", "failure detection/member-failed event everywhere",
		"graceful leave/left everywhere", "memory/heap per node", "user event/delivered everywhere",
		"packet loss/user events lost (node x event)", "partition/user events delivered twice",
		"packet loss/real failure detected everywhere", "packet loss/alive everywhere after the fault",
		"slow node/false failures (events)", "partition/other half failed everywhere",
		"partition/alive everywhere after the fault", "partition/false failures (events)",
		"churn/bytes sent per node", "churn/all alive everywhere after the last change",
	}
	got := map[string]bench.Row{}
	for _, r := range rows {
		t.Log(describeRow(r))
		got[r.Scenario+"/"+r.Metric] = r
		if r.Note != "" {
			t.Errorf("%s: %s", r.Key(), r.Note)
		}
		if r.Serf == nil || math.IsNaN(r.Ours) || math.IsNaN(*r.Serf) {
			t.Errorf("%s: missing figure: %+v", r.Key(), r)
		}
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("no row %q", k)
		}
	}
	for _, k := range []string{"join convergence/all alive everywhere", "failure detection/failed everywhere", "graceful leave/left everywhere"} {
		if r := got[k]; r.Ours <= 0 || r.Serf == nil || *r.Serf <= 0 {
			t.Errorf("%s: want positive times, got ours %v serf %v", k, r.Ours, r.Serf)
		}
	}
	// Without loss in the cluster, a real failure takes memberlist's probe,
	// suspicion and gossip: seconds, never under one probe interval.
	if r := got["failure detection/failed everywhere"]; r.Ours < 1 || r.Ours > 60 {
		t.Errorf("failure detection took %.2fs; want 1-60 s", r.Ours)
	}
	for _, r := range rows {
		switch {
		case r.Param == "5% loss" && (r.Metric == "false failures (events)" || r.Metric == "user events lost (node x event)") && r.Ours != 0:
			t.Errorf("5%% loss on %d nodes: %s = %v", r.N, r.Metric, r.Ours)
		case r.Metric == "user events delivered twice" && r.Ours != 0:
			t.Errorf("%s: %v user events delivered twice", r.Key(), r.Ours)
		}
	}
}

// runPlan runs p and returns its rows.
func runPlan(t *testing.T, p plan) []bench.Row {
	var agg aggregate
	for _, n := range sortedKeys(p.lifecycle) {
		for trial := range p.lifecycle[n] {
			for _, im := range impls {
				agg.add(im.name, n, "", 0, timed(t, im.name, "lifecycle", n, trial, func() []figure { return lifecycle(t, im, n) }))
			}
		}
	}
	for _, n := range p.memory {
		for _, im := range impls {
			agg.add(im.name, n, "", 0, timed(t, im.name, "memory", n, 0, func() []figure { return memory(t, im, n) }))
		}
	}
	for _, n := range p.churn {
		for _, im := range impls {
			agg.add(im.name, n, "", 0, timed(t, im.name, "churn", n, 0, func() []figure { return churn(t, im, n) }))
		}
	}
	sizes := sortedKeys(p.faults)
	for _, f := range faults() {
		ns := sizes
		if f.smallestOnly {
			ns = sizes[:1]
		}
		for _, n := range ns {
			for trial := range p.faults[n] {
				for _, im := range impls {
					agg.add(im.name, n, f.param, f.x, timed(t, im.name, f.scenario+" "+f.param, n, trial, func() []figure { return f.run(t, im, n) }))
				}
			}
		}
	}
	return agg.rows()
}

// timed runs one scenario and logs how long it took for real.
func timed(t *testing.T, impl, what string, n, trial int, run func() []figure) []figure {
	wall, cpu := time.Now(), cpuTime()
	figs := run()
	t.Logf("%s %s N=%d trial %d: wall %.1fs, CPU %.1fs", impl, what, n, trial+1,
		time.Since(wall).Seconds(), (cpuTime() - cpu).Seconds())
	return figs
}

func sortedKeys(m map[int]int) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// aggregate collects figures over trials and implementations.
type aggregate struct {
	order []string
	cells map[string]*cell
}

type cell struct {
	row    bench.Row
	count  bool
	values map[string][]float64 // implementation -> one value per trial
	notes  map[string]int       // "impl: note" -> trials
}

func (a *aggregate) add(impl string, n int, param string, x float64, figs []figure) {
	if a.cells == nil {
		a.cells = map[string]*cell{}
	}
	for _, f := range figs {
		r := bench.Row{Scenario: f.scenario, Metric: f.metric, N: n, Param: param, X: x, Unit: f.unit}
		k := r.Key()
		c, ok := a.cells[k]
		if !ok {
			c = &cell{row: r, count: f.count, values: map[string][]float64{}, notes: map[string]int{}}
			a.cells[k] = c
			a.order = append(a.order, k)
		}
		c.values[impl] = append(c.values[impl], f.value)
		if f.note != "" {
			c.notes[impl+": "+f.note]++
		}
	}
}

// rows returns one row per cell: the median of the trials for times, the
// mean for counts.
func (a *aggregate) rows() []bench.Row {
	var out []bench.Row
	for _, k := range a.order {
		c := a.cells[k]
		r := c.row
		sum := func(vs []float64) float64 {
			if c.count {
				return mean(vs)
			}
			return median(vs)
		}
		if vs := c.values[ours.name]; len(vs) > 0 {
			r.Ours = sum(vs)
		} else {
			r.Ours = math.NaN()
		}
		if vs := c.values[serfLib.name]; len(vs) > 0 {
			r.Serf = bench.Float(sum(vs))
		}
		var notes []string
		for note, times := range c.notes {
			notes = append(notes, fmt.Sprintf("%s (%d of %d)", note, times, len(c.values[strings.SplitN(note, ":", 2)[0]])))
		}
		slices.Sort(notes)
		if trials := len(c.values[ours.name]); trials > 1 {
			how := "median"
			if c.count {
				how = "mean"
			}
			notes = append([]string{fmt.Sprintf("%s of %d", how, trials)}, notes...)
		}
		r.Note = strings.Join(notes, "; ")
		out = append(out, r)
	}
	return out
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(vs []float64) float64 {
	var t float64
	for _, v := range vs {
		t += v
	}
	return t / float64(len(vs))
}

// describeRow formats a row for the test log.
func describeRow(r bench.Row) string {
	serf, ratio := "-", "-"
	if r.Serf != nil {
		serf = fmt.Sprintf("%.3g", *r.Serf)
	}
	if x, ok := r.Ratio(); ok {
		ratio = fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%-18s %-34s %-12s N=%-4d ours %-8.3g serf %-8s x%-5s %s  %s", r.Scenario, r.Metric, r.Param, r.N, r.Ours, serf, ratio, r.Unit, r.Note)
}
