// Package suite holds the in-process scenarios of the benchmark suite: our
// gossip nodes and Serf's library (a test-only dependency) side by side on
// the in-memory network, each cluster inside a testing/synctest bubble so
// that protocol time is virtual. The figures are then the protocols' own,
// not the machine's load: a 60-second partition costs a second of CPU, and
// a starved scheduler cannot cause a false failure. CPU and memory are
// still measured for real.
//
// `make bench` runs it with BENCH_OUT set to the directory that receives
// the rows (see internal/bench); without BENCH_OUT only a small smoke run
// of every scenario takes place, which checks the harness.
package suite
