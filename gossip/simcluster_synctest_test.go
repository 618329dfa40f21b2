//go:build !race

package gossip_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

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
