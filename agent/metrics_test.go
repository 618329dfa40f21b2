package agent

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agentd/agent/internal/testlog"
	"github.com/agentd/agent/rpc"
)

// TestMetricsEndpoint scrapes /metrics of a 3-node cluster and watches the
// member gauges follow a member's failure.
func TestMetricsEndpoint(t *testing.T) {
	_, gossipB, _ := runAgent(t, &FileConfig{NodeName: strp("m-b")}, &testlog.Buffer{})
	_, _, stopC := runAgent(t, &FileConfig{NodeName: strp("m-c"), StartJoin: []string{gossipB}}, &testlog.Buffer{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	// Started last: its sinks are the process's (go-metrics is global).
	rpcA, _, _ := runAgent(t, &FileConfig{NodeName: strp("m-a"), StartJoin: []string{gossipB}, MetricsAddr: strp(metricsAddr),
		EventHandlers: []string{"user:deploy=/bin/true"}}, &testlog.Buffer{})
	// agent info shows the endpoint and Serf's event_handlers section.
	c, err := rpc.Dial(context.Background(), rpcA, "")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := c.Stats(context.Background())
	c.Close()
	if err != nil || stats["agent"]["metrics_endpoint"] != "http://"+metricsAddr+"/metrics" || stats["event_handlers"]["user:deploy=/bin/true"] != "/bin/true" {
		t.Errorf("stats agent %v, event_handlers %v, %v", stats["agent"], stats["event_handlers"], err)
	}

	gauge := func(body, name string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+-]+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		return v, err == nil
	}
	scrape := func() string {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitMetric := func(name string, want float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			body := scrape()
			if v, ok := gauge(body, name); ok && v == want {
				return
			}
			if time.Now().After(deadline) {
				v, ok := gauge(body, name)
				t.Fatalf("%s = %v (found %t); want %v", name, v, ok, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitMetric("serf_agent_serf_members_alive", 3)
	waitMetric("serf_agent_serf_members_failed", 0)
	stopC() // no leave: a failure
	waitMetric("serf_agent_serf_members_failed", 1)
	waitMetric("serf_agent_serf_members_alive", 2)
	body := scrape()
	for _, name := range []string{"serf_agent_serf_member_join", "serf_agent_memberlist_gossip", "serf_agent_agent_ipc_command", "serf_agent_agent_rpc_commands{command=\"stats\"}", "serf_agent_serf_msgs_received", "serf_agent_agent_rpc_connections", "serf_agent_serf_queue_dropped"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name)).MatchString(body) {
			t.Errorf("no %s in /metrics", name)
		}
	}
}

// TestStatsdAndSIGUSR1: metrics reach a statsd listener, and SIGUSR1 prints
// the in-memory metrics to the agent's stderr.
func TestStatsdAndSIGUSR1(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var logs testlog.Buffer
	runAgent(t, &FileConfig{NodeName: strp("statsd"), StatsdAddr: strp(pc.LocalAddr().String())}, &logs)
	if err := pc.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no serf-agent.serf.members.alive gauge reached statsd: %v", err)
		}
		if regexp.MustCompile(`serf-agent\.serf\.members\.alive:1(\.0+)?\|g`).Match(buf[:n]) {
			break
		}
	}
	// The in-memory sink prints only finished 10-second intervals: signal
	// once a second until one is.
	deadline := time.Now().Add(30 * time.Second)
	for !regexp.MustCompile(`\[G\] 'serf-agent\.serf\.members\.alive': 1\.000`).MatchString(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGUSR1 printed no metrics; stderr:\n%s", logs.String())
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
}
