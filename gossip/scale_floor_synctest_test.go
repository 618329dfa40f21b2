//go:build !race

package gossip_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/gossip/memnet"
	"github.com/agentd/agent/gossip/streamzip"
	"github.com/hashicorp/memberlist"
)

// RunMemberlistScale measures memberlist by itself the way RunScale
// measures our nodes: same network, LAN timings, and the transport and
// compression our nodes use (push/pull streams compressed, packets not),
// but no delegate at all: no member table, intents, events, queries or
// coordinates. Its heap and idle CPU are the floor of any agent built on
// memberlist v0.5, ours included.
//
// memberlist cannot take a thousand joins to one seed at once (it refuses
// past 128 pending push/pulls), so the nodes join in waves of 50, each to
// a random node of the earlier waves, and the cluster is given until
// opt.Converge to list everyone everywhere through memberlist's own
// gossip and push/pulls.
func RunMemberlistScale(t *testing.T, opt ScaleOptions) ScaleResult {
	return runScale(t, opt, func(t *testing.T, nw *memnet.Network) scaleCluster {
		c := make(memberlistCluster, opt.Nodes)
		for i := range c {
			tr := nw.NewTransport()
			cfg := memberlist.DefaultLANConfig()
			cfg.Name = fmt.Sprintf("node-%04d", i)
			cfg.Transport = streamzip.Wrap(tr)
			cfg.EnableCompression = false
			cfg.LogOutput = io.Discard
			m, err := memberlist.Create(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c[i] = memberlistNode{m: m, addr: tr.Addr()}
		}
		return c
	})
}

type memberlistNode struct {
	m    *memberlist.Memberlist
	addr string
}

// memberlistCluster is a cluster of bare memberlist nodes.
type memberlistCluster []memberlistNode

func (c memberlistCluster) converge(t *testing.T, limit time.Duration) {
	start := time.Now()
	const wave = 50
	rng := rand.New(rand.NewPCG(3, 4))
	for lo := 1; lo < len(c); lo += wave {
		var wg sync.WaitGroup
		for i := lo; i < min(lo+wave, len(c)); i++ {
			seed := c[rng.IntN(lo)].addr
			wg.Go(func() {
				if _, err := c[i].m.Join([]string{seed}); err != nil {
					t.Logf("%s: join %s: %v", c[i].m.LocalNode().Name, seed, err)
				}
			})
		}
		wg.Wait()
	}
	for !c.allSee() && time.Since(start) < limit {
		time.Sleep(time.Second)
	}
}

// settled: memberlist's broadcast queue is not visible; the join's alive
// messages ran out within a minute in every run of ours (which uses the
// same queue limits), so idle starts a minute after convergence.
func (c memberlistCluster) settled(since time.Duration) bool { return since >= time.Minute }

func (c memberlistCluster) allSee() bool {
	for _, n := range c {
		if n.m.NumMembers() != len(c) {
			return false
		}
	}
	return true
}

func (c memberlistCluster) shutdown() {
	for _, n := range c {
		_ = n.m.Shutdown()
	}
}
