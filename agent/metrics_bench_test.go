package agent

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metrics "github.com/armon/go-metrics"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/internal/bench"
)

// BenchmarkMetricsOverhead measures a hot path, a user event fired and
// delivered on one node (encoding, dedup, the snapshot-free delivery and
// its metrics), with metrics going nowhere and with the sinks an operator
// turns on (in-memory for SIGUSR1 plus Prometheus). With BENCH_OUT set the
// two figures go to $BENCH_OUT/metrics.json as rows of the suite's table.
func BenchmarkMetricsOverhead(b *testing.B) {
	started := time.Now()
	perOp := map[string]float64{}
	run := func(name string, install func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			install(b)
			cfg := gossip.DefaultConfig()
			cfg.NodeName, cfg.BindAddr, cfg.BindPort = "bench", "127.0.0.1", 0
			ch := make(chan events.Event, 1024)
			cfg.Events = ch
			n, err := gossip.Create(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer n.Shutdown()
			go func() {
				for range ch {
				}
			}()
			payload := make([]byte, 0, 16)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				payload = strconv.AppendInt(payload[:0], int64(i), 10)
				if err := n.UserEvent("deploy", payload, false); err != nil {
					b.Fatal(err)
				}
			}
			perOp[name] = float64(time.Since(start).Nanoseconds()) / float64(b.N) / 1000
		})
	}
	run("no-sink", func(b *testing.B) {
		conf := metrics.DefaultConfig(MetricsService)
		conf.EnableHostname, conf.EnableRuntimeMetrics = false, false
		if _, err := metrics.NewGlobal(conf, &metrics.BlackholeSink{}); err != nil {
			b.Fatal(err)
		}
	})
	run("inmem+prometheus", func(b *testing.B) {
		sinks, err := startMetrics(Config{MetricsAddr: "127.0.0.1:0"}, io.Discard, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(sinks.stop)
	})
	dir := os.Getenv("BENCH_OUT")
	if dir == "" || len(perOp) < 2 {
		return
	}
	row := func(param string, x float64) bench.Row {
		return bench.Row{Scenario: "metrics overhead", Metric: "user event fired and delivered on one node", Param: param, X: x, N: 1, Unit: "µs", Ours: perOp[map[float64]string{0: "no-sink", 1: "inmem+prometheus"}[x]],
			Note: "time per event; the difference is the cost of the sinks"}
	}
	res := &bench.Results{Started: started, Finished: time.Now(), Machine: bench.ThisMachine(),
		Rows: []bench.Row{row("no sink", 0), row("in-memory + Prometheus", 1)}}
	if err := res.Write(filepath.Join(dir, "metrics.json")); err != nil {
		b.Fatal(err)
	}
}
