//go:build !race

package gossip_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
)

// missedEventArrival runs 10 nodes (LAN timings); node 9 hears no packet
// for the 5 s in which node 0 fires event "first" (so neither the direct
// sends nor gossip reach it), then node 0 fires "second". It returns how
// long after "second" reached node 9 "first" did too (or limit), and node
// 9's stats.
func missedEventArrival(t *testing.T, tune func(*gossip.Config), limit time.Duration) (took time.Duration, st gossip.Stats) {
	const n = 10
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(memnet.Config{Seed: 3})
		nw.SetDelay(250 * time.Microsecond)
		var nodes []*gossip.Node
		var mu sync.Mutex
		seen := map[string]time.Time{}
		stop := make(chan struct{})
		defer close(stop)
		for i := range n {
			ch := make(chan events.Event, 256)
			cfg := gossip.DefaultConfig()
			cfg.NodeName = fmt.Sprintf("node-%d", i)
			cfg.Transport, cfg.Events = nw.NewTransport(), ch
			cfg.Logger = slog.New(slog.NewTextHandler(logSink{t}, &slog.HandlerOptions{Level: slog.LevelError}))
			if tune != nil {
				tune(&cfg)
			}
			nd, err := gossip.Create(cfg)
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, nd)
			go func() {
				for {
					select {
					case e := <-ch:
						if ue, ok := e.(events.UserEvent); ok && i == n-1 {
							mu.Lock()
							seen[ue.Name] = time.Now()
							mu.Unlock()
						}
					case <-stop:
						return
					}
				}
			}()
			if i > 0 {
				if _, err := nd.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		for !allSee(nodes, n) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(10 * time.Second) // past the repair rounds of the joins
		deaf := nodes[n-1].Addr()
		for _, nd := range nodes[:n-1] {
			nw.SetLinkLoss(nd.Addr(), deaf, 1)
		}
		if err := nodes[0].UserEvent("first", nil, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		for _, nd := range nodes[:n-1] {
			nw.SetLinkLoss(nd.Addr(), deaf, 0)
		}
		mu.Lock()
		_, early := seen["first"]
		mu.Unlock()
		if early {
			t.Fatal("node 9 got the first event through the loss: the test shows nothing")
		}
		if err := nodes[0].UserEvent("second", nil, false); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			mu.Lock()
			second, ok2 := seen["second"]
			first, ok1 := seen["first"]
			mu.Unlock()
			if ok1 && ok2 {
				took = max(0, first.Sub(second))
				break
			}
			if time.Since(start) > limit {
				took = limit
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		st = nodes[n-1].Stats()
		nw.Close()
		for _, nd := range nodes {
			_ = nd.Shutdown()
		}
		time.Sleep(time.Minute) // memberlist's probes end on their timeouts
	})
	return took, st
}

// TestSynctestMissedEventRepaired: a node that missed a user event learns
// of it from the next one (its time is above the node's event clock) and
// fetches it with one push/pull at once, instead of waiting for the
// periodic push/pull (30 s here). Negative control: with repairs off the
// first event arrives only with that push/pull.
func TestSynctestMissedEventRepaired(t *testing.T) {
	took, st := missedEventArrival(t, nil, time.Minute)
	t.Logf("with repair: the missed event arrived %v after the next one; gaps %d, gap push/pulls %d", took, st.EventGaps, st.EventGapPushPulls)
	if took > time.Second {
		t.Errorf("the missed event arrived %v after the next one; want within 1s", took)
	}
	if st.EventGaps == 0 || st.EventGapPushPulls == 0 || st.EventGapPushPulls > 2 {
		t.Errorf("gaps %d, gap push/pulls %d; want at least one gap and one or two push/pulls", st.EventGaps, st.EventGapPushPulls)
	}
	off, _ := missedEventArrival(t, func(c *gossip.Config) { c.RepairRounds = 0 }, time.Minute)
	t.Logf("without repair: %v", off)
	if off <= 2*time.Second {
		t.Errorf("without repairs the missed event still arrived after %v: the test does not isolate the repair", off)
	}
}
