//go:build !race

package suite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// Limits and windows, in protocol time.
const (
	convergeLimit = 5 * time.Minute // the slow path waits for a push/pull
	detectLimit   = 2 * time.Minute
	settle        = 10 * time.Second // after convergence, before measuring
	steadyWindow  = time.Minute
	faultWindow   = 2 * time.Minute // loss and slow node
	partitionTime = time.Minute
	killAfter     = 10 * time.Second // into a fault, the real failure
)

// figure is one measurement of one run.
type figure struct {
	scenario, metric, unit string
	value                  float64
	count                  bool   // aggregated by mean; times by median
	note                   string // set when a wait timed out
}

// elapsed makes a figure in seconds of the time from start to at, noting
// a wait that ran out.
func elapsed(scenario, metric string, start, at time.Time, ok bool, limit time.Duration) figure {
	f := figure{scenario: scenario, metric: metric, unit: "s", value: at.Sub(start).Seconds()}
	if !ok {
		f.note = fmt.Sprintf("not reached within %s", limit)
	}
	return f
}

func counted(scenario, metric string, v int) figure {
	return figure{scenario: scenario, metric: metric, unit: "count", value: float64(v), count: true}
}

// lifecycle runs one cluster of n through join, a quiet minute, an abrupt
// failure and a graceful leave, in a bubble.
func lifecycle(t *testing.T, im impl, n int) (figs []figure) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, im, n, 1)
		defer c.close()
		last := c.joinAll()
		at, ok := c.waitConverged(convergeLimit)
		figs = append(figs, elapsed("join convergence", "all alive everywhere", last, at, ok, convergeLimit))
		if !ok {
			return
		}

		time.Sleep(settle)
		b0, cpu0 := c.bytesSent(), cpuTime()
		time.Sleep(steadyWindow)
		perNodeSec := float64(n) * steadyWindow.Seconds()
		figs = append(figs,
			figure{scenario: "steady state", metric: "bytes sent per node", unit: "B/s",
				value: float64(c.bytesSent()-b0) / perNodeSec},
			figure{scenario: "steady state", metric: "CPU per node", unit: "µs/s",
				value: float64((cpuTime() - cpu0).Microseconds()) / perNodeSec})

		start := time.Now()
		fired := []string{"deploy:v42"}
		if err := c.nodes[0].userEvent("deploy", []byte("v42")); err != nil {
			t.Errorf("%s: user event: %v", im.name, err)
		}
		_, ok = waitUntil(detectLimit, func() bool { lost, _, _ := c.delivery(start, fired); return lost == 0 })
		_, _, at = c.delivery(start, fired)
		figs = append(figs, elapsed("user event", "delivered everywhere", start, at, ok, detectLimit))

		victim := n - 1
		start = time.Now()
		c.kill(victim)
		at, ok = c.waitStatus(detectLimit, "failed", victim)
		figs = append(figs, elapsed("failure detection", "failed everywhere", start, at, ok, detectLimit))
		at, ok = c.waitAll(detectLimit, func(int) bool { _, ok := c.lastEvent(start, "member-failed", victim); return ok })
		if ok {
			at, _ = c.lastEvent(start, "member-failed", victim)
		}
		figs = append(figs, elapsed("failure detection", "member-failed event everywhere", start, at, ok, detectLimit))

		leaver := n - 2
		start = time.Now()
		done := c.leaveAsync(leaver)
		at, ok = c.waitStatus(detectLimit, "left", leaver)
		<-done
		figs = append(figs, elapsed("graceful leave", "left everywhere", start, at, ok, detectLimit))
	})
	return figs
}

// fault describes one fault scenario on a converged cluster.
type fault struct {
	scenario, param string
	x               float64
	// apply starts the fault; heal ends it.
	apply, heal func(c *cluster)
	// partitioned reports, for a partition, whether nodes a and b are
	// cut apart: their failing each other is expected, not false.
	partitioned func(a, b int) bool
	// smallestOnly runs the fault at the smallest size of the plan only.
	smallestOnly bool
}

func lossFault(pct int) fault {
	p := float64(pct) / 100
	return fault{
		scenario: "packet loss", param: fmt.Sprintf("%d%% loss", pct), x: float64(pct),
		apply: func(c *cluster) { c.net.SetLoss(p) },
		heal:  func(c *cluster) { c.net.SetLoss(0) },
	}
}

// slowFault delays every packet and dial to and from node 1.
func slowFault(d time.Duration) fault {
	return fault{
		scenario: "slow node", param: fmt.Sprintf("%s delay", d), x: float64(d.Milliseconds()),
		apply: func(c *cluster) { c.net.SetNodeDelay(c.trs[1].Addr(), d) },
		heal:  func(c *cluster) { c.net.SetNodeDelay(c.trs[1].Addr(), 0) },
	}
}

// halves splits the cluster in two: nodes below n/2 and the rest.
func halves() fault {
	var n int
	return fault{
		scenario: "partition", param: fmt.Sprintf("halves %s", partitionTime),
		apply: func(c *cluster) {
			n = len(c.nodes)
			var a, b []string
			for i, tr := range c.trs {
				if i < n/2 {
					a = append(a, tr.Addr())
				} else {
					b = append(b, tr.Addr())
				}
			}
			c.net.Partition(a, b)
		},
		heal:        func(c *cluster) { c.net.Heal() },
		partitioned: func(a, b int) bool { return (a < n/2) != (b < n/2) },
	}
}

// run converges a cluster of n, applies the fault, and measures false
// failures, the detection of a real failure (for a partition: of the other
// half), and the recovery once the fault ends, in a bubble.
func (f fault) run(t *testing.T, im impl, n int) (figs []figure) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, im, n, 1)
		defer c.close()
		c.joinAll()
		if _, ok := c.waitConverged(convergeLimit); !ok {
			figs = append(figs, figure{scenario: f.scenario, metric: "converged before the fault", unit: "s",
				value: convergeLimit.Seconds(), note: "not converged: " + c.describe(func(i int) bool { return c.nodes[i].alive() == n })})
			return
		}
		time.Sleep(settle)
		start := time.Now()
		f.apply(c)
		stopFiring := make(chan struct{})
		firedCh := make(chan []string)
		go fireEvents(c, stopFiring, firedCh)
		victim := -1
		window := faultWindow
		if f.partitioned == nil {
			time.Sleep(killAfter)
			victim = n - 1
			k := time.Now()
			c.kill(victim)
			at, ok := c.waitStatus(faultWindow-killAfter, "failed", victim)
			figs = append(figs, elapsed(f.scenario, "real failure detected everywhere", k, at, ok, faultWindow-killAfter))
		} else {
			window = partitionTime
			at, ok := c.waitAll(partitionTime, func(i int) bool {
				for j := range c.nodes {
					if f.partitioned(i, j) && c.nodes[i].status(c.names[j]) != "failed" {
						return false
					}
				}
				return true
			})
			figs = append(figs, elapsed(f.scenario, "other half failed everywhere", start, at, ok, partitionTime))
		}
		time.Sleep(time.Until(start.Add(window)))
		close(stopFiring)
		fired := <-firedCh
		f.heal(c)
		h := time.Now()
		at, ok := c.waitConverged(convergeLimit)
		figs = append(figs, elapsed(f.scenario, "alive everywhere after the fault", h, at, ok, convergeLimit))
		waitUntil(convergeLimit, func() bool { lost, _, _ := c.delivery(start, fired); return lost == 0 })
		lost, doubled, _ := c.delivery(start, fired)
		figs = append(figs,
			counted(f.scenario, "user events lost (node x event)", lost),
			counted(f.scenario, "user events delivered twice", doubled))

		wrong := func(e observed) bool {
			m := slices.Index(c.names, e.member)
			if m == victim {
				return false
			}
			return f.partitioned == nil || !f.partitioned(e.observer, m) || e.at.After(h)
		}
		events, members := c.failures(start, wrong)
		figs = append(figs,
			counted(f.scenario, "false failures (events)", events),
			counted(f.scenario, "nodes falsely failed", members))
	})
	return figs
}

// eventEvery is the pace of the user events fired during a fault on n
// nodes: every second on 20 nodes, every 5 s on 100, so that the deliveries
// to simulate stay near 1,200 a minute whatever the size.
func eventEvery(n int) time.Duration {
	return max(200*time.Millisecond, time.Duration(n)*50*time.Millisecond)
}

// fireEvents fires a user event every eventEvery from nodes 0..n-2 in turn
// (node n-1 is the one a fault scenario stops) until stop is closed, then
// sends the events fired ("name:payload") on fired.
func fireEvents(c *cluster, stop <-chan struct{}, fired chan<- []string) {
	var out []string
	tick := time.NewTicker(eventEvery(len(c.nodes)))
	defer tick.Stop()
	for k := 0; ; k++ {
		select {
		case <-stop:
			fired <- out
			return
		case <-tick.C:
		}
		payload := fmt.Sprintf("%d", k)
		if err := c.nodes[k%(len(c.nodes)-1)].userEvent("e", []byte(payload)); err != nil {
			c.t.Errorf("%s: user event: %v", c.impl.name, err)
			continue
		}
		out = append(out, "e:"+payload)
	}
}

// leaveAsync starts a graceful leave of node i and returns a channel closed
// once the node has left and shut down.
func (c *cluster) leaveAsync(i int) <-chan struct{} {
	c.down[i] = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.nodes[i].leave(context.Background()); err != nil {
			c.t.Errorf("%s: %s leave: %v", c.impl.name, c.names[i], err)
		}
		if err := c.nodes[i].shutdown(); err != nil {
			c.t.Errorf("%s: stop %s: %v", c.impl.name, c.names[i], err)
		}
	}()
	return done
}
