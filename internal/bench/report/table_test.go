package main

import (
	"strings"
	"testing"

	"github.com/agentd/agent/internal/bench"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{3, "3"},
		{120, "120"},
		{-2, "-2"},
		{1.23456, "1.23"},
		{0.0123456, "0.0123"},
		{123.456, "123"},
		{12345.6, "12346"},
		{9.996, "10.0"},
		{0.5, "0.500"},
		{-1.5, "-1.50"},
	}
	for _, tt := range tests {
		if got := number(tt.v); got != tt.want {
			t.Errorf("number(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if got := sig3(2); got != "2.00" {
		t.Errorf("sig3(2) = %q, want 2.00 (ratios keep three digits)", got)
	}
}

func TestArrange(t *testing.T) {
	rows := []bench.Row{
		{Scenario: "join convergence", Metric: "all alive everywhere", N: 20},
		{Scenario: "packet loss", Metric: "false failures", N: 10, Param: "5% loss"},
		{Scenario: "join convergence", Metric: "all alive everywhere", N: 5},
		{Scenario: "packet loss", Metric: "false failures", N: 10, Param: "20% loss"},
		{Scenario: "packet loss", Metric: "false failures", N: 3, Param: "5% loss"},
		{Scenario: "join convergence", Metric: "bytes sent", N: 5},
	}
	var got []string
	for _, r := range arrange(rows) {
		got = append(got, r.Key())
	}
	want := []string{
		"join convergence/all alive everywhere/N=5/",
		"join convergence/all alive everywhere/N=20/",
		"packet loss/false failures/N=3/5% loss",
		"packet loss/false failures/N=10/5% loss",
		"packet loss/false failures/N=10/20% loss",
		"join convergence/bytes sent/N=5/",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("arrange order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWriteTable(t *testing.T) {
	rows := []bench.Row{
		{Scenario: "join convergence", Metric: "all alive everywhere", N: 5, Unit: "s", Ours: 1.2345, Serf: bench.Float(0.61725)},
		{Scenario: "packet loss", Metric: "false failures", N: 10, Param: "20% loss", X: 20, Unit: "count", Ours: 3, Serf: bench.Float(0)},
		{Scenario: "rpc", Metric: "members latency", N: 100, Unit: "ms", Ours: 0.04321},
	}
	var b strings.Builder
	if err := writeTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"scenario          metric                param     N    ours    serf   ours/serf  unit\n" +
		"join convergence  all alive everywhere            5    1.23    0.617  2.00       s\n" +
		"packet loss       false failures        20% loss  10   3       0      -          count\n" +
		"rpc               members latency                 100  0.0432  -      -          ms\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTableNotes(t *testing.T) {
	rows := []bench.Row{
		{Scenario: "a", Metric: "m", N: 1, Unit: "s", Ours: 1, Serf: bench.Float(4), Note: "median of 5"},
		{Scenario: "b", Metric: "m", N: 2, Unit: "s", Ours: 1},
	}
	var b strings.Builder
	if err := writeTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"scenario  metric  param  N  ours  serf  ours/serf  unit  note\n" +
		"a         m              1  1     4     0.250      s     median of 5\n" +
		"b         m              2  1     -     -          s\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestMarkdownTable(t *testing.T) {
	rows := []bench.Row{
		{Scenario: "a|b", Metric: "m", N: 3, Unit: "s", Ours: 1.5, Serf: bench.Float(3)},
		{Scenario: "c", Metric: "m", N: 4, Unit: "KB", Ours: 12},
	}
	want := "" +
		"| scenario | metric | param | N | ours | serf | ours/serf | unit |\n" +
		"| --- | --- | --- | --: | --: | --: | --: | --- |\n" +
		"| a\\|b | m |  | 3 | 1.50 | 3 | 0.500 | s |\n" +
		"| c | m |  | 4 | 12 | - | - | KB |\n"
	if got := markdownTable(rows); got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}
