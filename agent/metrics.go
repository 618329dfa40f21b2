package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	metrics "github.com/armon/go-metrics"
	promsink "github.com/armon/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentd/agent/events"
)

// MetricsService prefixes every metric name, Serf's agent's, so existing
// dashboards keep working: serf-agent.serf.member.join,
// serf-agent.memberlist.gossip, ... (in Prometheus, serf_agent_serf_...).
const MetricsService = "serf-agent"

// metricsSinks is where metrics go: always an in-memory sink (printed on
// SIGUSR1), plus statsd, statsite and a Prometheus endpoint as configured.
// memberlist reports into go-metrics' global registry, so the sinks are
// installed there, and ours report the same way.
type metricsSinks struct {
	signal *metrics.InmemSignal
	server *http.Server
	addr   net.Addr // the Prometheus endpoint, nil without one
	done   chan struct{}
}

// startMetrics installs the sinks cfg asks for.
func startMetrics(cfg Config, stderr io.Writer, logger *slog.Logger) (*metricsSinks, error) {
	inm := metrics.NewInmemSink(10*time.Second, time.Minute)
	fanout := metrics.FanoutSink{inm}
	if cfg.StatsdAddr != "" {
		s, err := metrics.NewStatsdSink(cfg.StatsdAddr)
		if err != nil {
			return nil, fmt.Errorf("statsd_addr %s: %w", cfg.StatsdAddr, err)
		}
		fanout = append(fanout, s)
	}
	if cfg.StatsiteAddr != "" {
		s, err := metrics.NewStatsiteSink(cfg.StatsiteAddr)
		if err != nil {
			return nil, fmt.Errorf("statsite_addr %s: %w", cfg.StatsiteAddr, err)
		}
		fanout = append(fanout, s)
	}
	m := &metricsSinks{done: make(chan struct{})}
	if cfg.MetricsAddr != "" {
		reg := prometheus.NewRegistry()
		sink, err := promsink.NewPrometheusSinkFrom(promsink.PrometheusOpts{Registerer: reg, Expiration: time.Minute, Name: "agent_metrics"})
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		fanout = append(fanout, sink)
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("metrics_addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
		m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		m.addr = ln.Addr()
		go func() {
			defer close(m.done)
			if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics endpoint stopped", "err", err)
			}
		}()
		logger.Info("serving Prometheus metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	} else {
		close(m.done)
	}
	conf := metrics.DefaultConfig(MetricsService)
	conf.EnableHostname = false
	if _, err := metrics.NewGlobal(conf, fanout); err != nil {
		m.stop()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m.signal = metrics.NewInmemSignal(inm, syscall.SIGUSR1, stderr)
	return m, nil
}

// stop ends the endpoint and the SIGUSR1 handler.
func (m *metricsSinks) stop() {
	if m.signal != nil {
		m.signal.Stop()
	}
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.server.Shutdown(ctx)
	}
	<-m.done
}

// gaugeLoop publishes the membership gauges every interval: members by
// status, memberlist's health score, queue depths and dropped events.
func (a *Agent) gaugeLoop(interval time.Duration) {
	for {
		s := a.node.Stats()
		for _, st := range []events.MemberStatus{events.StatusAlive, events.StatusLeaving, events.StatusLeft, events.StatusFailed} {
			metrics.SetGauge([]string{"serf", "members", st.String()}, float32(s.Members[st]))
		}
		metrics.SetGauge([]string{"serf", "health", "score"}, float32(s.HealthScore))
		metrics.SetGauge([]string{"serf", "queue", "Intent"}, float32(s.IntentQueue))
		metrics.SetGauge([]string{"serf", "queue", "Event"}, float32(s.UserEventQueue))
		metrics.SetGauge([]string{"serf", "queue", "Query"}, float32(s.QueryQueue))
		metrics.SetGauge([]string{"serf", "events", "dropped"}, float32(s.EventsDropped))
		metrics.SetGauge([]string{"serf", "queue", "dropped"}, float32(s.IntentsDropped))
		if f := a.rpcStats.Load(); f != nil {
			rs := (*f)()
			metrics.SetGauge([]string{"agent", "rpc", "records_dropped"}, float32(rs.RecordsDropped))
			metrics.SetGauge([]string{"agent", "rpc", "connections"}, float32(rs.Conns))
		}
		hs := a.runner.Stats()
		metrics.SetGauge([]string{"agent", "handlers", "dropped"}, float32(hs.Dropped))
		if !a.sleep(interval) {
			return
		}
	}
}
