//go:build !race

package suite

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// churnWindow is how long the churn scenario runs: one membership change
// a second, leaves and joins in turn.
const churnWindow = time.Minute

// churn measures a converged cluster under steady churn, as a fleet being
// rolled or autoscaled: every second either a running member leaves
// gracefully (the oldest but node 0) or a new one joins (through node 0), in turn, for
// churnWindow. It reports the payload bytes sent per running node per
// second and the CPU per node over the window, and the time after the
// last change until every running node lists every running node alive.
func churn(t *testing.T, im impl, n int) (figs []figure) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, im, n, 1)
		defer c.close()
		c.joinAll()
		if _, ok := c.waitConverged(convergeLimit); !ok {
			t.Errorf("%s: %d nodes did not converge before the churn", im.name, n)
			return
		}
		time.Sleep(settle)
		b0, cpu0 := c.bytesSent(), cpuTime()
		start := time.Now()
		var leaves []<-chan struct{}
		running := 0.0 // node-seconds
		for s := 0; time.Since(start) < churnWindow; s++ {
			if s%2 == 0 {
				// The oldest member but the seed leaves: a rolling
				// replacement.
				leaves = append(leaves, c.leaveAsync(c.observers()[1]))
			} else {
				c.add()
			}
			running += float64(len(c.observers()))
			time.Sleep(time.Second)
		}
		bytes, cpu := c.bytesSent()-b0, cpuTime()-cpu0
		last := time.Now().Add(-time.Second)
		for _, done := range leaves {
			<-done
		}
		at, ok := c.waitConverged(convergeLimit)
		figs = append(figs,
			figure{scenario: "churn", metric: "bytes sent per node", unit: "B/s", value: float64(bytes) / running},
			figure{scenario: "churn", metric: "CPU per node", unit: "µs/s", value: float64(cpu.Microseconds()) / running},
			elapsed("churn", "all alive everywhere after the last change", last, at, ok, convergeLimit))
	})
	return figs
}

// add starts a new node and joins it to node 0.
func (c *cluster) add() {
	c.t.Helper()
	i := len(c.nodes)
	tr := c.net.NewTransport()
	name := fmt.Sprintf("node-%03d", i)
	nd, err := c.impl.start(i, name, tr, c.rec, c.stopEv)
	if err != nil {
		c.t.Fatalf("%s: start %s: %v", c.impl.name, name, err)
	}
	c.trs, c.names, c.nodes, c.down = append(c.trs, tr), append(c.names, name), append(c.nodes, nd), append(c.down, false)
	if err := nd.join(c.t.Context(), c.trs[0].Addr()); err != nil {
		c.t.Errorf("%s: %s join: %v", c.impl.name, name, err)
	}
}
