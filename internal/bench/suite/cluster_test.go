//go:build !race

package suite

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentd/agent/gossip/memnet"
)

// poll is how often waits look at the nodes' member lists, in protocol
// (bubble) time: the resolution of the times measured by polling.
const poll = 20 * time.Millisecond

// lanDelay is the one-way delay of every packet and connection: a LAN's
// quarter of a millisecond, so that a message that crosses several hops
// takes time, as it would on a wire.
const lanDelay = 250 * time.Microsecond

// cluster is n nodes of one implementation on one in-memory network, inside
// the caller's synctest bubble.
type cluster struct {
	t      *testing.T
	impl   impl
	net    *memnet.Network
	trs    []*memnet.Transport
	names  []string
	nodes  []node
	down   []bool // stopped or left: no longer an observer
	rec    *recorder
	stopEv chan struct{}
}

// newCluster starts n nodes (not yet joined).
func newCluster(t *testing.T, im impl, n int, seed int64) *cluster {
	t.Helper()
	c := &cluster{
		t: t, impl: im, net: memnet.New(memnet.Config{Seed: seed}),
		rec: &recorder{}, stopEv: make(chan struct{}), down: make([]bool, n),
	}
	c.net.SetDelay(lanDelay)
	for i := range n {
		tr := c.net.NewTransport()
		name := fmt.Sprintf("node-%03d", i)
		nd, err := im.start(i, name, tr, c.rec, c.stopEv)
		if err != nil {
			t.Fatalf("%s: start %s: %v", im.name, name, err)
		}
		c.trs, c.names, c.nodes = append(c.trs, tr), append(c.names, name), append(c.nodes, nd)
	}
	return c
}

// joinAll joins nodes 1..n-1 to node 0 one after another and returns when
// the last join began.
func (c *cluster) joinAll() time.Time {
	c.t.Helper()
	var last time.Time
	for i, nd := range c.nodes[1:] {
		last = time.Now()
		if err := nd.join(c.t.Context(), c.trs[0].Addr()); err != nil {
			c.t.Fatalf("%s: %s join: %v", c.impl.name, c.names[i+1], err)
		}
	}
	return last
}

// observers returns the indexes of the nodes still running.
func (c *cluster) observers() []int {
	var out []int
	for i, d := range c.down {
		if !d {
			out = append(out, i)
		}
	}
	return out
}

// waitAll polls until ok holds for every observer, and returns when it
// first did, or false after limit. Observers that satisfied ok are not
// asked again until the rest do; then one full pass confirms.
func (c *cluster) waitAll(limit time.Duration, ok func(i int) bool) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	pending := c.observers()
	for {
		pending = slices.DeleteFunc(pending, ok)
		if len(pending) == 0 {
			if pending = slices.DeleteFunc(c.observers(), ok); len(pending) == 0 {
				return time.Now(), true
			}
		}
		if time.Now().After(deadline) {
			return time.Now(), false
		}
		time.Sleep(poll)
	}
}

// waitUntil polls until cond holds, and returns when it first did, or
// false after limit.
func waitUntil(limit time.Duration, cond func() bool) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return time.Now(), false
		}
		time.Sleep(poll)
	}
	return time.Now(), true
}

// waitConverged waits until every observer sees every observer alive.
func (c *cluster) waitConverged(limit time.Duration) (time.Time, bool) {
	want := len(c.observers())
	return c.waitAll(limit, func(i int) bool { return c.nodes[i].alive() == want })
}

// waitStatus waits until every observer other than the members themselves
// lists each of members with status.
func (c *cluster) waitStatus(limit time.Duration, status string, members ...int) (time.Time, bool) {
	return c.waitAll(limit, func(i int) bool {
		for _, m := range members {
			if m != i && c.nodes[i].status(c.names[m]) != status {
				return false
			}
		}
		return true
	})
}

// kill stops node i abruptly.
func (c *cluster) kill(i int) {
	c.down[i] = true
	if err := c.nodes[i].shutdown(); err != nil {
		c.t.Errorf("%s: stop %s: %v", c.impl.name, c.names[i], err)
	}
}

// lastEvent returns when the last observer received a typ event about
// member at or after since, and whether every observer (other than the
// member) did.
func (c *cluster) lastEvent(since time.Time, typ string, member int) (time.Time, bool) {
	first := map[int]time.Time{}
	for _, e := range c.rec.since(since) {
		if e.typ == typ && e.member == c.names[member] {
			if _, ok := first[e.observer]; !ok {
				first[e.observer] = e.at
			}
		}
	}
	var last time.Time
	for _, i := range c.observers() {
		if i == member {
			continue
		}
		at, ok := first[i]
		if !ok {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, true
}

// failures counts the member-failed events at or after since for which
// wrong returns true, and how many distinct members they named.
func (c *cluster) failures(since time.Time, wrong func(e observed) bool) (events, members int) {
	seen := map[string]bool{}
	for _, e := range c.rec.since(since) {
		if e.typ == "member-failed" && wrong(e) {
			events++
			seen[e.member] = true
		}
	}
	return events, len(seen)
}

// bytesSent returns the bytes every node has sent so far: packet
// payloads and what was written on streams (push/pulls, TCP pings).
func (c *cluster) bytesSent() uint64 {
	b := c.net.Stats().StreamBytes
	for _, tr := range c.trs {
		b += tr.Stats().BytesSent
	}
	return b
}

// close shuts every node down. The network goes first, so no node sees a
// peer vanish and starts probing it; then the bubble's clock runs on past
// memberlist's outstanding timers so that every goroutine ends.
func (c *cluster) close() {
	if err := c.net.Close(); err != nil {
		c.t.Errorf("%s: close network: %v", c.impl.name, err)
	}
	for i, nd := range c.nodes {
		if !c.down[i] {
			c.down[i] = true
			if err := nd.shutdown(); err != nil {
				c.t.Errorf("%s: stop %s: %v", c.impl.name, c.names[i], err)
			}
		}
	}
	close(c.stopEv)
	time.Sleep(time.Minute)
}

// describe says which observers do not yet satisfy a wait, for failures.
func (c *cluster) describe(ok func(i int) bool) string {
	var bad []string
	for _, i := range c.observers() {
		if !ok(i) {
			bad = append(bad, c.names[i])
		}
	}
	return fmt.Sprintf("%d observers lag: %s", len(bad), strings.Join(bad[:min(len(bad), 8)], " "))
}

// cpuTime returns the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// delivery counts, for user events fired (as "name:payload") at or after
// since, the (observer, event) pairs never delivered among the running
// observers and those delivered more than once, and returns when the last
// delivery came.
func (c *cluster) delivery(since time.Time, fired []string) (lost, doubled int, last time.Time) {
	got := map[int]map[string]int{}
	for _, e := range c.rec.since(since) {
		if e.typ != "user" {
			continue
		}
		if got[e.observer] == nil {
			got[e.observer] = map[string]int{}
		}
		got[e.observer][e.member]++
		if e.at.After(last) {
			last = e.at
		}
	}
	for _, i := range c.observers() {
		for _, f := range fired {
			switch n := got[i][f]; {
			case n == 0:
				lost++
			case n > 1:
				doubled++
			}
		}
	}
	return lost, doubled, last
}
