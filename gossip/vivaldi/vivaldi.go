// Package vivaldi estimates round-trip times between nodes with network
// coordinates, after Dabek et al., "Vivaldi: A Decentralized Network
// Coordinate System" (SIGCOMM 2004), with the height vectors, error
// weighting, per-node latency filter, adjustment term and gravity that
// Serf uses, and Serf's parameters, so our coordinates and Serf's agree.
//
// A Client holds this node's coordinate and refines it with each measured
// round trip to another node whose coordinate it learns; DistanceTo
// between two coordinates estimates their round-trip time.
package vivaldi

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Config holds the algorithm's parameters; DefaultConfig is Serf's.
type Config struct {
	// Dimensionality is the number of Euclidean dimensions (plus a height).
	Dimensionality int
	// ErrorMax bounds, and starts, a coordinate's error estimate.
	ErrorMax float64
	// CE weighs a new sample in the error estimate; CC scales the move.
	CE, CC float64
	// AdjustmentWindow is how many recent samples form the adjustment term.
	AdjustmentWindow int
	// HeightMin is the smallest height (seconds).
	HeightMin float64
	// LatencyFilterSize is how many recent round trips per node feed the
	// median filter that drops outliers.
	LatencyFilterSize int
	// GravityRho sets how strongly coordinates are pulled to the origin,
	// which keeps a cluster from drifting (seconds).
	GravityRho float64
}

// DefaultConfig returns Serf's parameters.
func DefaultConfig() Config {
	return Config{
		Dimensionality: 8, ErrorMax: 1.5, CE: 0.25, CC: 0.25,
		AdjustmentWindow: 20, HeightMin: 10e-6, LatencyFilterSize: 3, GravityRho: 150,
	}
}

// zero is below any meaningful distance or error, in seconds.
const zero = 1e-6

// maxRTT is the longest round trip accepted as a sample.
const maxRTT = 10 * time.Second

// Coordinate is a point in the model: a Euclidean vector and a height (the
// access-link delay), plus the error of the estimate and an adjustment
// that absorbs what the model cannot express. Field names are Serf's, as
// they travel in msgpack.
type Coordinate struct {
	Vec        []float64
	Error      float64
	Adjustment float64
	Height     float64
}

// NewCoordinate returns the origin, with the largest error.
func NewCoordinate(cfg Config) *Coordinate {
	return &Coordinate{Vec: make([]float64, cfg.Dimensionality), Error: cfg.ErrorMax, Height: cfg.HeightMin}
}

// Clone returns a deep copy.
func (c *Coordinate) Clone() *Coordinate {
	d := *c
	d.Vec = slices.Clone(c.Vec)
	return &d
}

// Valid reports whether every component is a finite number.
func (c *Coordinate) Valid() bool {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	for _, v := range c.Vec {
		if !finite(v) {
			return false
		}
	}
	return finite(c.Error) && finite(c.Adjustment) && finite(c.Height)
}

// Compatible reports whether c and o have the same dimensionality.
func (c *Coordinate) Compatible(o *Coordinate) bool { return len(c.Vec) == len(o.Vec) }

// DistanceTo estimates the round-trip time between c and o.
func (c *Coordinate) DistanceTo(o *Coordinate) time.Duration {
	d := c.raw(o)
	if adjusted := d + c.Adjustment + o.Adjustment; adjusted > 0 {
		d = adjusted
	}
	return time.Duration(d * float64(time.Second))
}

// raw is the model distance in seconds, without the adjustments.
func (c *Coordinate) raw(o *Coordinate) float64 {
	return distance(c.Vec, o.Vec) + c.Height + o.Height
}

// ErrIncompatible is returned for a coordinate of another dimensionality.
var ErrIncompatible = errors.New("coordinate dimensionality does not match")

// ErrInvalid is returned for a coordinate with NaN or infinite components.
var ErrInvalid = errors.New("coordinate is not finite")

// Client maintains this node's coordinate. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu      sync.Mutex
	coord   *Coordinate
	origin  *Coordinate
	adjust  []float64 // ring of recent rtt - distance samples
	adjNext int
	peers   peerTable // recent round trips (seconds) and last coordinate per peer
	resets  int
	rng     *rand.Rand
	// Scratch space for Update, which runs on every ping: the sorted
	// round trips of one peer and the unit vector of one move.
	sorted, unit []float64
}

// NewClient starts at the origin.
func NewClient(cfg Config) *Client {
	return &Client{
		cfg: cfg, coord: NewCoordinate(cfg), origin: NewCoordinate(cfg),
		adjust: make([]float64, cfg.AdjustmentWindow), peers: newPeerTable(cfg.LatencyFilterSize, cfg.Dimensionality),
		rng:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		sorted: make([]float64, 0, cfg.LatencyFilterSize), unit: make([]float64, cfg.Dimensionality),
	}
}

// Coordinate returns a copy of this node's coordinate.
func (c *Client) Coordinate() *Coordinate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.coord.Clone()
}

// Resets counts how often the coordinate became invalid and was reset.
func (c *Client) Resets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

// Forget drops the latency samples and the coordinate of a node that left.
func (c *Client) Forget(node string) {
	c.mu.Lock()
	c.peers.forget(node)
	c.mu.Unlock()
}

// Peer returns a copy of the coordinate node sent with the last round trip
// that Update accepted; false if there is none.
func (c *Client) Peer(node string) (*Coordinate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peers.coord(node)
}

// Update refines this node's coordinate with a round trip of rtt to node,
// whose coordinate is other, and returns the new coordinate; once it
// succeeds, Peer returns other for node. Invalid or incompatible
// coordinates and round trips outside [0, 10s] are refused.
func (c *Client) Update(node string, other *Coordinate, rtt time.Duration) (*Coordinate, error) {
	if !other.Valid() {
		return nil, fmt.Errorf("update from %s: %w", node, ErrInvalid)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.coord.Compatible(other) {
		return nil, fmt.Errorf("update from %s: %w (%d, ours %d)", node, ErrIncompatible, len(other.Vec), len(c.coord.Vec))
	}
	if rtt < 0 || rtt > maxRTT {
		return nil, fmt.Errorf("update from %s: round trip %v outside 0-%v", node, rtt, maxRTT)
	}
	sample := c.filtered(node, rtt.Seconds())
	c.move(other, sample)
	c.adjustTo(other, sample)
	c.pullToOrigin()
	if !c.coord.Valid() {
		c.resets++
		c.coord = NewCoordinate(c.cfg)
		return nil, fmt.Errorf("update from %s: the coordinate became invalid and was reset", node)
	}
	c.peers.setCoord(node, other)
	return c.coord.Clone(), nil
}

// filtered records a round trip and returns the median of the recent ones.
func (c *Client) filtered(node string, rtt float64) float64 {
	c.sorted = append(c.sorted[:0], c.peers.addRTT(node, rtt)...)
	slices.Sort(c.sorted)
	return c.sorted[len(c.sorted)/2]
}

// move is the Vivaldi step: a spring between the two nodes, stretched or
// compressed by the difference between the measured and modelled
// distance, moves this node by a share weighted by the two errors.
func (c *Client) move(other *Coordinate, rtt float64) {
	rtt = max(rtt, zero)
	dist := c.coord.raw(other)
	relErr := math.Abs(dist-rtt) / rtt
	total := max(c.coord.Error+other.Error, zero)
	w := c.coord.Error / total
	c.coord.Error = min(c.cfg.CE*w*relErr+c.coord.Error*(1-c.cfg.CE*w), c.cfg.ErrorMax)
	c.push(other, c.cfg.CC*w*(rtt-dist))
}

// push moves this node by force (seconds) along the direction from other
// to it; a positive force moves away. Height takes its share of the move.
func (c *Client) push(other *Coordinate, force float64) {
	unit := c.unit
	mag := distance(c.coord.Vec, other.Vec)
	if mag > zero {
		for i := range unit {
			unit[i] = (c.coord.Vec[i] - other.Vec[i]) / mag
		}
	} else {
		// Same place: a random direction lets the two separate; the
		// height stays, as there is no distance to share out.
		for i := range unit {
			unit[i] = c.rng.Float64() - 0.5
		}
		if n := norm(unit); n > zero {
			for i := range unit {
				unit[i] /= n
			}
		}
	}
	for i := range unit {
		c.coord.Vec[i] += unit[i] * force
	}
	if mag > zero {
		c.coord.Height = max(c.coord.Height+(c.coord.Height+other.Height)*force/mag, c.cfg.HeightMin)
	}
}

// adjustTo updates the adjustment: half the mean, over the window, of how
// much longer the measured round trip was than the model distance.
func (c *Client) adjustTo(other *Coordinate, rtt float64) {
	c.adjust[c.adjNext] = rtt - c.coord.raw(other)
	c.adjNext = (c.adjNext + 1) % len(c.adjust)
	sum := 0.0
	for _, s := range c.adjust {
		sum += s
	}
	c.coord.Adjustment = sum / (2 * float64(len(c.adjust)))
}

// pullToOrigin applies gravity: a force growing with the square of the
// distance from the origin keeps the whole cluster from drifting away.
func (c *Client) pullToOrigin() {
	d := c.coord.raw(c.origin)
	c.push(c.origin, -(d/c.cfg.GravityRho)*(d/c.cfg.GravityRho))
}

// distance is the Euclidean distance between a and b.
func distance(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
