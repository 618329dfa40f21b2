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
// another, waits until every node lists all of them, and then lets the
// repair push/pulls of the joins run out.
func joinInTurn(t *testing.T, nodes []*gossip.Node) {
	for _, nd := range nodes[1:] {
		if _, err := nd.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
			t.Fatal(err)
		}
	}
	for !allSee(nodes, len(nodes)) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
}

// setDeaf loses every packet the other nodes send to nodes[k] with
// probability p (1: nodes[k] hears nothing; 0: heal).
func setDeaf(nw *memnet.Network, nodes []*gossip.Node, k int, p float64) {
	for i, nd := range nodes {
		if i != k {
			nw.SetLinkLoss(nd.Addr(), nodes[k].Addr(), p)
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
