package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/agentd/agent/internal/bench"
)

// columns heads the table, in the text and in the Markdown.
var columns = []string{"scenario", "metric", "param", "N", "ours", "serf", "ours/serf", "unit"}

// numeric marks the columns holding numbers, right-aligned in Markdown.
var numeric = map[string]bool{"N": true, "ours": true, "serf": true, "ours/serf": true}

// arrange returns rows with those of the same scenario, metric and param
// together, ordered by N; the groups keep the order of their first row.
func arrange(rows []bench.Row) []bench.Row {
	type key struct{ scenario, metric, param string }
	var order []key
	groups := make(map[key][]bench.Row)
	for _, r := range rows {
		k := key{r.Scenario, r.Metric, r.Param}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]bench.Row, 0, len(rows))
	for _, k := range order {
		g := groups[k]
		slices.SortStableFunc(g, func(a, b bench.Row) int { return cmp.Compare(a.N, b.N) })
		out = append(out, g...)
	}
	return out
}

// hasNotes reports whether any row carries a note, which adds a column.
func hasNotes(rows []bench.Row) bool {
	return slices.ContainsFunc(rows, func(r bench.Row) bool { return r.Note != "" })
}

// header returns the column names, with "note" when notes says so.
func header(notes bool) []string {
	if notes {
		return append(slices.Clip(columns), "note")
	}
	return columns
}

// cells formats r in the order of columns (and its note when notes), with
// "-" where there is no Serf figure or no ratio.
func cells(r bench.Row, notes bool) []string {
	serf, ratio := "-", "-"
	if r.Serf != nil {
		serf = number(*r.Serf)
	}
	if q, ok := r.Ratio(); ok {
		ratio = sig3(q)
	}
	c := []string{r.Scenario, r.Metric, r.Param, strconv.Itoa(r.N), number(r.Ours), serf, ratio, r.Unit}
	if notes {
		c = append(c, r.Note)
	}
	return c
}

// writeTable prints rows as a plain-text table with aligned columns.
func writeTable(w io.Writer, rows []bench.Row) error {
	notes := hasNotes(rows)
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header(notes), "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(cells(r, notes), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(b.String()) {
		out.WriteString(strings.TrimRight(line, " \n") + "\n") // no padding after an empty note
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// markdownTable renders rows as a Markdown table, numbers right-aligned.
func markdownTable(rows []bench.Row) string {
	notes := hasNotes(rows)
	var b strings.Builder
	line := func(cs []string) {
		b.WriteString("|")
		for _, c := range cs {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	h := header(notes)
	line(h)
	rule := make([]string, len(h))
	for i, c := range h {
		rule[i] = "---"
		if numeric[c] {
			rule[i] = "--:"
		}
	}
	line(rule)
	for _, r := range rows {
		line(cells(r, notes))
	}
	return b.String()
}

// number formats a figure: whole numbers (counts, mostly) as integers, the
// others to three significant digits.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return sig3(v)
}

// sig3 formats v to three significant digits, without an exponent; digits
// left of the point are all kept (12345.6 is "12346").
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	// 'e' rounds to three digits first, so 9.996 gives exponent 1 ("10.0").
	e := strconv.FormatFloat(math.Abs(v), 'e', 2, 64)
	exp, err := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if err != nil {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', max(0, 2-exp), 64)
}
