package vivaldi

// peerTable holds what a Client knows about each peer: its recent round
// trips (the latency filter) and the last coordinate it sent. A node keeps
// an entry for every member, so a cluster of N in one process holds N²
// of them: the entries live in flat slices indexed by a slot number, one
// map entry and no pointer per peer.
type peerTable struct {
	window int // round trips kept per peer
	dim    int // coordinate dimensionality

	slots map[string]int32
	free  []int32   // slots of forgotten peers, for reuse
	rtts  []float64 // window per slot, oldest first
	nrtt  []int32   // round trips held per slot
	// coords holds dim+3 per slot: Error, Adjustment, Height, then Vec.
	coords   []float64
	hasCoord []bool
}

func newPeerTable(window, dim int) peerTable {
	return peerTable{window: window, dim: dim, slots: map[string]int32{}}
}

// slot returns the peer's slot, making one if it has none.
func (p *peerTable) slot(node string) int32 {
	if s, ok := p.slots[node]; ok {
		return s
	}
	var s int32
	if k := len(p.free); k > 0 {
		s, p.free = p.free[k-1], p.free[:k-1]
	} else {
		s = int32(len(p.nrtt))
		p.rtts = append(p.rtts, make([]float64, p.window)...)
		p.nrtt = append(p.nrtt, 0)
		p.coords = append(p.coords, make([]float64, p.dim+3)...)
		p.hasCoord = append(p.hasCoord, false)
	}
	p.slots[node] = s
	return s
}

// addRTT records a round trip and returns the peer's recent ones, oldest
// first; the slice is valid until the next change to the table.
func (p *peerTable) addRTT(node string, rtt float64) []float64 {
	s := p.slot(node)
	w := p.rtts[int(s)*p.window : int(s+1)*p.window]
	k := int(p.nrtt[s])
	if k == p.window {
		copy(w, w[1:])
		k--
	}
	w[k] = rtt
	p.nrtt[s] = int32(k + 1)
	return w[:k+1]
}

// setCoord remembers the peer's coordinate, which has p.dim dimensions.
func (p *peerTable) setCoord(node string, c *Coordinate) {
	s := p.slot(node)
	v := p.coords[int(s)*(p.dim+3) : int(s+1)*(p.dim+3)]
	v[0], v[1], v[2] = c.Error, c.Adjustment, c.Height
	copy(v[3:], c.Vec)
	p.hasCoord[s] = true
}

// coord returns a copy of the peer's last coordinate.
func (p *peerTable) coord(node string) (*Coordinate, bool) {
	s, ok := p.slots[node]
	if !ok || !p.hasCoord[s] {
		return nil, false
	}
	v := p.coords[int(s)*(p.dim+3) : int(s+1)*(p.dim+3)]
	return &Coordinate{Error: v[0], Adjustment: v[1], Height: v[2], Vec: append([]float64(nil), v[3:]...)}, true
}

// forget drops the peer and frees its slot.
func (p *peerTable) forget(node string) {
	s, ok := p.slots[node]
	if !ok {
		return
	}
	delete(p.slots, node)
	p.nrtt[s], p.hasCoord[s] = 0, false
	p.free = append(p.free, s)
}
