package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/agentd/agent/internal/bench"
)

// xFrom says which field of a row a plot puts on its x axis.
type xFrom int

const (
	byN xFrom = iota // cluster size, Row.N
	byX              // a fault's level, Row.X
)

// plotSpec describes one picture: ours and Serf's figures of one scenario
// and metric against N or X.
type plotSpec struct {
	Scenario, Metric string
	X                xFrom
	Title            string // also the image's alt text in the docs
	XLabel, YLabel   string // the rows' unit is added to YLabel
	File             string // PNG file name in <docs>/bench
}

// plots lists the pictures the report draws; add a line to add a plot.
var plots = []plotSpec{
	{"join convergence", "all alive everywhere", byN, "Join convergence time versus cluster size", "cluster size N", "time until all alive everywhere", "convergence.png"},
	{"packet loss", "false failures (events)", byX, "False failures versus packet loss", "packet loss (%)", "false failures", "loss.png"},
	{"packet loss", "real failure detected everywhere", byX, "Failure detection time versus packet loss", "packet loss (%)", "time until failed everywhere", "detection-loss.png"},
	{"packet loss", "user events lost (node x event)", byX, "User events lost versus packet loss", "packet loss (%)", "(node, event) pairs never delivered", "events-lost.png"},
	{"failure detection", "failed everywhere", byN, "Failure detection time versus cluster size", "cluster size N", "time until failed everywhere", "failure-detection.png"},
}

// Picture size and resolution.
const (
	plotWidth  = 15 * vg.Centimeter
	plotHeight = 9 * vg.Centimeter
	plotDPI    = 150
)

// series is the points of one line pair: the rows sharing the dimension
// the x axis does not show (Param for byN, N for byX).
type series struct {
	label      string // "" when the plot has one series
	ours, serf plotter.XYs
}

// writePlots draws each spec whose rows exist into dir and returns the
// specs drawn. A spec without rows (or with rows in mixed units) is
// skipped with a message on stderr; only a failure to draw or write a
// picture is an error.
func writePlots(rows []bench.Row, dir string, specs []plotSpec, stderr io.Writer) ([]plotSpec, error) {
	var drawn []plotSpec
	for _, s := range specs {
		var sel []bench.Row
		for _, r := range rows {
			if r.Scenario == s.Scenario && r.Metric == s.Metric {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			fmt.Fprintf(stderr, "report: skipping %s: no rows of scenario %q, metric %q\n", s.File, s.Scenario, s.Metric)
			continue
		}
		unit := sel[0].Unit
		if slices.ContainsFunc(sel, func(r bench.Row) bool { return r.Unit != unit }) {
			fmt.Fprintf(stderr, "report: skipping %s: rows of scenario %q, metric %q have mixed units\n", s.File, s.Scenario, s.Metric)
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return drawn, fmt.Errorf("plot %s: %w", s.File, err)
		}
		if err := drawPlot(s, unit, split(s.X, sel), filepath.Join(dir, s.File)); err != nil {
			return drawn, fmt.Errorf("plot %s: %w", s.File, err)
		}
		drawn = append(drawn, s)
	}
	return drawn, nil
}

// split groups rows into series by the dimension x does not show, each
// series' points ordered by x; non-finite figures are left out.
func split(x xFrom, rows []bench.Row) []series {
	var out []series
	index := make(map[string]int)
	for _, r := range rows {
		key, px := r.Param, float64(r.N)
		if x == byX {
			key, px = "N="+strconv.Itoa(r.N), r.X
		}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, series{label: key})
		}
		if finite(r.Ours) {
			out[i].ours = append(out[i].ours, plotter.XY{X: px, Y: r.Ours})
		}
		if r.Serf != nil && finite(*r.Serf) {
			out[i].serf = append(out[i].serf, plotter.XY{X: px, Y: *r.Serf})
		}
	}
	byXY := func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) }
	for i := range out {
		slices.SortStableFunc(out[i].ours, byXY)
		slices.SortStableFunc(out[i].serf, byXY)
	}
	if len(out) == 1 {
		out[0].label = ""
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// drawPlot draws the series, ours solid and Serf's dashed, into a PNG at
// path. The y axis starts at zero: every figure is lower-is-better and a
// zero baseline keeps the gap between the lines honest.
func drawPlot(s plotSpec, unit string, ss []series, path string) error {
	p := plot.New()
	p.Title.Text = s.Title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = s.YLabel
	if unit != "" && unit != "count" {
		p.Y.Label.Text += " (" + unit + ")"
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, se := range ss {
		for side, pts := range []plotter.XYs{se.ours, se.serf} {
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			c := plotutil.Color(2*i + side)
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			points.Shape = plotutil.Shape(side)
			points.Radius = vg.Points(3)
			name := "ours"
			if side == 1 {
				name = "Serf"
				line.Dashes = plotutil.Dashes(1)
			}
			if se.label != "" {
				name += ", " + se.label
			}
			p.Add(line, points)
			p.Legend.Add(name, line, points)
		}
	}
	p.Y.Min = math.Min(0, p.Y.Min)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1 // all zero: show 0..1 rather than -1..1
	}

	img := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	p.Draw(draw.New(img))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
