package vivaldi

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestConvergesOnAGrid: nodes on a plane, round trips equal to their
// distance plus a fixed access delay; after rounds of random pings every
// pair's estimate is close to the truth.
func TestConvergesOnAGrid(t *testing.T) {
	const n = 16
	rng := rand.New(rand.NewPCG(1, 2))
	type node struct {
		x, y   float64 // milliseconds
		client *Client
	}
	nodes := make([]node, n)
	for i := range nodes {
		nodes[i] = node{x: float64(i%4) * 10, y: float64(i/4) * 10, client: NewClient(DefaultConfig())}
	}
	truth := func(a, b node) time.Duration {
		ms := math.Hypot(a.x-b.x, a.y-b.y) + 1 // 0.5 ms access link each
		return time.Duration(ms * float64(time.Millisecond))
	}
	for range 2000 {
		i, j := rng.IntN(n), rng.IntN(n)
		if i == j {
			continue
		}
		if _, err := nodes[i].client.Update("n"+string(rune('a'+j)), nodes[j].client.Coordinate(), truth(nodes[i], nodes[j])); err != nil {
			t.Fatal(err)
		}
	}
	var errs []float64
	for i := range nodes {
		for j := range nodes {
			if i == j {
				continue
			}
			est := nodes[i].client.Coordinate().DistanceTo(nodes[j].client.Coordinate())
			real := truth(nodes[i], nodes[j])
			errs = append(errs, math.Abs(float64(est-real))/float64(real))
		}
	}
	slices.Sort(errs)
	if median := errs[len(errs)/2]; median > 0.15 {
		t.Fatalf("median relative error %.2f after 2,000 pings; want under 0.15", median)
	}
}

func TestRefusesBadInput(t *testing.T) {
	c := NewClient(DefaultConfig())
	before := c.Coordinate()
	bad := NewCoordinate(DefaultConfig())
	bad.Vec[3] = math.NaN()
	inf := NewCoordinate(DefaultConfig())
	inf.Height = math.Inf(1)
	short := &Coordinate{Vec: make([]float64, 3)}
	for name, tc := range map[string]struct {
		other *Coordinate
		rtt   time.Duration
	}{
		"NaN":              {bad, time.Millisecond},
		"infinite":         {inf, time.Millisecond},
		"other dimensions": {short, time.Millisecond},
		"negative rtt":     {NewCoordinate(DefaultConfig()), -time.Millisecond},
		"rtt over 10s":     {NewCoordinate(DefaultConfig()), 11 * time.Second},
	} {
		if _, err := c.Update("x", tc.other, tc.rtt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if after := c.Coordinate(); !slices.Equal(after.Vec, before.Vec) || after.Height != before.Height || !after.Valid() {
		t.Fatalf("refused input moved the coordinate: %+v", after)
	}
}

func TestLatencyFilterDropsAnOutlier(t *testing.T) {
	c := NewClient(DefaultConfig())
	for _, ms := range []float64{10, 11, 500} {
		got := c.filtered("peer", ms/1000)
		if ms == 500 && got > 0.02 {
			t.Fatalf("median after an outlier = %v; want the 11 ms sample", got)
		}
	}
}

// Peer returns the coordinate of the last accepted update, Forget drops it,
// and a forgotten peer's slot is reused without leaking its round trips.
func TestClientPeers(t *testing.T) {
	c := NewClient(DefaultConfig())
	if _, ok := c.Peer("a"); ok {
		t.Fatal("Peer(a) known before any update")
	}
	other := NewCoordinate(DefaultConfig())
	other.Vec[0], other.Height = 0.01, 0.002
	if _, err := c.Update("a", other, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Peer("a")
	if !ok || got.Vec[0] != 0.01 || got.Height != 0.002 || got.Error != other.Error {
		t.Fatalf("Peer(a) = %+v, %t; want %+v", got, ok, other)
	}
	got.Vec[0] = 5 // a copy: the table must not change
	if again, _ := c.Peer("a"); again.Vec[0] != 0.01 {
		t.Fatalf("Peer(a) changed through a returned copy: %v", again.Vec[0])
	}
	bad := other.Clone()
	bad.Vec = bad.Vec[:3]
	if _, err := c.Update("b", bad, time.Millisecond); err == nil {
		t.Fatal("Update with an incompatible coordinate succeeded")
	}
	if _, ok := c.Peer("b"); ok {
		t.Fatal("Peer(b) known after a refused update")
	}
	c.Forget("a")
	if _, ok := c.Peer("a"); ok {
		t.Fatal("Peer(a) known after Forget")
	}
	// "c" takes a's slot: its filter starts empty.
	if got := c.filtered("c", 0.5); got != 0.5 {
		t.Fatalf("filtered(c, 0.5) = %v on a reused slot; want 0.5", got)
	}
}
