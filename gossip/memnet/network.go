package memnet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Sentinel errors; the errors returned wrap them with the operation and the
// address, e.g. "dial 127.0.0.1:20003: memnet: connection refused".
var (
	// ErrShutdown is returned by a Transport, or its Network, that was shut down.
	ErrShutdown = errors.New("memnet: transport shut down")
	// ErrRefused is returned by a dial to an address with no running Transport.
	ErrRefused = errors.New("memnet: connection refused")
	// ErrUnreachable is returned by a dial across a partition.
	ErrUnreachable = errors.New("memnet: host unreachable (partitioned)")
	// ErrReset is returned by reads and writes on a stream cut by a partition.
	ErrReset = errors.New("memnet: connection reset by partition")
)

const (
	firstPort        = 20000
	portsPerIP       = 65536 - firstPort
	defaultQueueSize = 4096
	// packetChSize is the buffer of a Transport's PacketCh; a burst past
	// it waits in a backlog that exists only while the burst lasts.
	packetChSize  = 64
	streamBacklog = 128
)

// Config configures a Network. The zero value is usable.
type Config struct {
	// Seed seeds the random source that decides packet loss; 0 picks a
	// time-based seed. A fixed seed makes the loss pattern of one sender
	// repeatable; with concurrent senders the interleaving still varies.
	Seed int64
	// QueueSize is the number of packets buffered per Transport before
	// further packets to it are dropped (counted in Stats.DroppedQueueFull).
	// Values below 1 mean 4096.
	QueueSize int
}

// Stats counts packets and streams across a Network since New. Each field is
// read atomically, but a Stats is not one consistent snapshot while traffic
// flows. A packet is counted once in Sent and, once its fate is known, in
// exactly one of Delivered and the Dropped fields; a packet still waiting
// out a delay is in neither.
type Stats struct {
	PacketsSent      uint64 // WriteTo calls accepted from running transports
	PacketsDelivered uint64 // packets queued on a receiver's PacketCh
	BytesSent        uint64 // payload bytes of PacketsSent
	BytesDelivered   uint64 // payload bytes of PacketsDelivered

	DroppedLoss      uint64 // dropped by SetLoss or SetLinkLoss
	DroppedPartition uint64 // dropped because sender and receiver were partitioned
	DroppedQueueFull uint64 // dropped because the receiver's PacketCh was full
	DroppedClosed    uint64 // receiver shut down or unknown, or Network closed in flight

	StreamsOpened uint64 // successful dials
	StreamBytes   uint64 // bytes written on streams, both directions
}

// Dropped returns the sum of the Dropped fields.
func (s Stats) Dropped() uint64 {
	return s.DroppedLoss + s.DroppedPartition + s.DroppedQueueFull + s.DroppedClosed
}

type counters struct {
	sent, delivered, bytesSent, bytesDelivered        atomic.Uint64
	lossDrops, partitionDrops, fullDrops, closedDrops atomic.Uint64
	streams, streamBytes                              atomic.Uint64
}

// Network is an in-memory network of Transports. Its methods are safe for
// concurrent use.
type Network struct {
	queueSize int
	faults    atomic.Pointer[faults] // replaced whole; see update
	stats     counters

	mu      sync.RWMutex // guards the fields below and serialises fault changes
	nodes   map[string]*Transport
	streams map[*stream]struct{}
	next    int // index of the next address to hand out
	closed  bool

	rngMu sync.Mutex
	rng   *rand.Rand

	timerMu     sync.Mutex
	timers      map[uint64]*time.Timer // pending delayed deliveries
	timerSeq    uint64
	timerClosed bool
}

// New returns an empty Network with no faults.
func New(cfg Config) *Network {
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	q := cfg.QueueSize
	if q <= 0 {
		q = defaultQueueSize
	}
	n := &Network{
		queueSize: q,
		nodes:     make(map[string]*Transport),
		streams:   make(map[*stream]struct{}),
		rng:       rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>1|1)),
		timers:    make(map[uint64]*time.Timer),
	}
	n.faults.Store(&faults{})
	return n
}

// NewTransport returns a running Transport with the next free address. After
// Close it returns a Transport that is already shut down.
func (n *Network) NewTransport() *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := n.next
	n.next++
	host := 1 + i/portsPerIP
	ip := net.IPv4(127, byte(host>>16), byte(host>>8), byte(host)).To4()
	t := newTransport(n, ip, firstPort+i%portsPerIP)
	if n.closed {
		t.shut.Store(true)
		close(t.done)
		return t
	}
	n.nodes[t.addr] = t
	return t
}

// Close shuts down every Transport, which closes every stream, and drops the
// packets still waiting out a delay (counted in Stats.DroppedClosed). It is
// idempotent.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	ts := make([]*Transport, 0, len(n.nodes))
	for _, t := range n.nodes {
		ts = append(ts, t)
	}
	n.mu.Unlock()
	for _, t := range ts {
		_ = t.Shutdown()
	}

	n.timerMu.Lock()
	defer n.timerMu.Unlock()
	n.timerClosed = true
	for id, tm := range n.timers {
		tm.Stop()
		delete(n.timers, id)
		n.stats.closedDrops.Add(1)
	}
	return nil
}

// Stats returns the network-wide counters.
func (n *Network) Stats() Stats {
	c := &n.stats
	return Stats{
		PacketsSent:      c.sent.Load(),
		PacketsDelivered: c.delivered.Load(),
		BytesSent:        c.bytesSent.Load(),
		BytesDelivered:   c.bytesDelivered.Load(),
		DroppedLoss:      c.lossDrops.Load(),
		DroppedPartition: c.partitionDrops.Load(),
		DroppedQueueFull: c.fullDrops.Load(),
		DroppedClosed:    c.closedDrops.Load(),
		StreamsOpened:    c.streams.Load(),
		StreamBytes:      c.streamBytes.Load(),
	}
}

// lookup returns the running Transport at addr, or nil.
func (n *Network) lookup(addr string) *Transport {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.nodes[addr]
}

// send applies the packet faults to one packet from src and delivers it now
// or after the delay. It never blocks on the receiver.
func (n *Network) send(src *Transport, to string, b []byte) {
	size := uint64(len(b))
	n.stats.sent.Add(1)
	n.stats.bytesSent.Add(size)
	src.stats.packetsSent.Add(1)
	src.stats.bytesSent.Add(size)

	f := n.faults.Load()
	if !f.connected(src.addr, to) {
		n.stats.partitionDrops.Add(1)
		return
	}
	if p := f.lossFor(src.addr, to); p > 0 && n.lose(p) {
		n.stats.lossDrops.Add(1)
		return
	}
	pkt := &memberlist.Packet{Buf: bytes.Clone(b), From: src.udpAddr}
	if d := f.delayFor(src.addr, to); d > 0 {
		n.after(d, func() { n.deliver(src.addr, to, pkt) })
		return
	}
	n.deliver(src.addr, to, pkt)
}

// deliver queues pkt on the receiver's PacketCh, or drops and counts it. The
// partition is checked again for packets that were delayed.
func (n *Network) deliver(from, to string, pkt *memberlist.Packet) {
	if !n.faults.Load().connected(from, to) {
		n.stats.partitionDrops.Add(1)
		return
	}
	dst := n.lookup(to)
	if dst == nil {
		n.stats.closedDrops.Add(1)
		return
	}
	pkt.Timestamp = time.Now()
	if !dst.enqueue(pkt) {
		n.stats.fullDrops.Add(1)
		return
	}
	size := uint64(len(pkt.Buf))
	n.stats.delivered.Add(1)
	n.stats.bytesDelivered.Add(size)
	dst.stats.packetsReceived.Add(1)
	dst.stats.bytesReceived.Add(size)
}

// lose reports whether a packet with loss probability p is dropped.
func (n *Network) lose(p float64) bool {
	if p >= 1 {
		return true
	}
	n.rngMu.Lock()
	r := n.rng.Float64()
	n.rngMu.Unlock()
	return r < p
}

// after runs fn once d has passed, unless Close comes first; then the packet
// fn carries is counted as dropped.
func (n *Network) after(d time.Duration, fn func()) {
	n.timerMu.Lock()
	defer n.timerMu.Unlock()
	if n.timerClosed {
		n.stats.closedDrops.Add(1)
		return
	}
	id := n.timerSeq
	n.timerSeq++
	n.timers[id] = time.AfterFunc(d, func() {
		n.timerMu.Lock()
		_, ok := n.timers[id]
		delete(n.timers, id)
		n.timerMu.Unlock()
		if ok { // else Close stopped it and counted the drop
			fn()
		}
	})
}

// unregister forgets a stream whose ends are both closed or that was reset.
func (n *Network) unregister(s *stream) {
	n.mu.Lock()
	delete(n.streams, s)
	n.mu.Unlock()
}
