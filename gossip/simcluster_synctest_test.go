//go:build !race

package gossip_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// newSimNodes creates n nodes with LAN timings on nw, named
// fmt.Sprintf(nameFormat, i); tune, if set, changes node i's configuration
// before it is created.
func newSimNodes(t *testing.T, nw *memnet.Network, n int, nameFormat string, tune func(i int, cfg *gossip.Config)) []*gossip.Node {
	logger := slog.New(slog.NewTextHandler(logSink{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	nodes := make([]*gossip.Node, n)
	for i := range nodes {
		cfg := gossip.DefaultConfig()
		cfg.NodeName = fmt.Sprintf(nameFormat, i)
		cfg.Transport = nw.NewTransport()
		cfg.Logger = logger
		if tune != nil {
			tune(i, &cfg)
		}
		nd, err := gossip.Create(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
	}
	return nodes
}

// tuneEach applies tune, if set, to every node's configuration.
func tuneEach(tune func(*gossip.Config)) func(int, *gossip.Config) {
	return func(_ int, cfg *gossip.Config) {
		if tune != nil {
			tune(cfg)
		}
	}
}

// joinInTurn joins every node but the first to the first, one after
// another, and settles the cluster.
func joinInTurn(t *testing.T, nodes []*gossip.Node) {
	for _, nd := range nodes[1:] {
		if _, err := nd.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
			t.Fatal(err)
		}
	}
	settle(nodes, len(nodes))
}

// settle waits until every node lists n members, then lets the repair
// push/pulls of the joins run out.
func settle(nodes []*gossip.Node, n int) {
	for !allSee(nodes, n) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
}

// startSerfsOnNet starts n Serf library nodes, serf-0 to serf-(n-1), with
// LAN timings on nw, each joined to join.
func startSerfsOnNet(t *testing.T, nw *memnet.Network, n int, join string) []*serf.Serf {
	var out []*serf.Serf
	for i := range n {
		tr := nw.NewTransport()
		s := startSerfWith(t, fmt.Sprintf("serf-%d", i), nil, func(c *serf.Config) {
			mc := memberlist.DefaultLANConfig()
			mc.Transport, mc.Logger = tr, c.Logger
			c.MemberlistConfig = mc
		})
		if _, err := s.Join([]string{join}, false); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// addrsOf returns the nodes' addresses.
func addrsOf(nodes []*gossip.Node) []string {
	var out []string
	for _, nd := range nodes {
		out = append(out, nd.Addr())
	}
	return out
}

// setDeaf loses every packet sent from any address of from to deaf with
// probability p (1: deaf hears none of them; 0: heal).
func setDeaf(nw *memnet.Network, from []string, deaf string, p float64) {
	for _, a := range from {
		if a != deaf {
			nw.SetLinkLoss(a, deaf, p)
		}
	}
}

// stopSim closes the network, shuts every node down and lets memberlist's
// probes end on their timeouts, so the bubble can finish.
func stopSim(nw *memnet.Network, nodes []*gossip.Node) {
	nw.Close()
	for _, nd := range nodes {
		_ = nd.Shutdown()
	}
	time.Sleep(time.Minute)
}

// eventTimes records when each user event first came out of a node's
// event channel.
type eventTimes struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// recordEvents drains ch until stop is closed.
func recordEvents(ch <-chan events.Event, stop <-chan struct{}) *eventTimes {
	e := &eventTimes{seen: map[string]time.Time{}}
	go func() {
		for {
			select {
			case ev := <-ch:
				if ue, ok := ev.(events.UserEvent); ok {
					e.mu.Lock()
					if _, dup := e.seen[ue.Name]; !dup {
						e.seen[ue.Name] = time.Now()
					}
					e.mu.Unlock()
				}
			case <-stop:
				return
			}
		}
	}()
	return e
}

func (e *eventTimes) has(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.seen[name]
	return ok
}

// lag waits until events first and second have both arrived and returns
// how long after second first came (zero if it came before), or limit if
// they do not both arrive within limit.
func (e *eventTimes) lag(first, second string, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) <= limit {
		e.mu.Lock()
		f, ok1 := e.seen[first]
		s, ok2 := e.seen[second]
		e.mu.Unlock()
		if ok1 && ok2 {
			return max(0, f.Sub(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return limit
}
