package memnet

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node's endpoint on a Network. It implements
// memberlist.NodeAwareTransport; its methods are safe for concurrent use.
type Transport struct {
	net      *Network
	addr     string
	ip       net.IP
	port     int
	udpAddr  *net.UDPAddr // From of the packets it sends; read-only
	tcpAddr  *net.TCPAddr // its address on streams; read-only
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{} // closed by Shutdown
	shut     atomic.Bool   // set under net.mu

	// A burst beyond packetCh's small buffer waits in backlog, which a
	// goroutine started for the burst feeds into packetCh: a thousand
	// idle Transports then hold no large buffers.
	qmu     sync.Mutex
	backlog []*memberlist.Packet
	pumping bool // a feeder runs
	qclosed bool // set by Shutdown: nothing more is queued
	pumps   sync.WaitGroup
	stats   struct {
		packetsSent, packetsReceived, bytesSent, bytesReceived atomic.Uint64
	}
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

func newTransport(n *Network, ip net.IP, port int) *Transport {
	return &Transport{
		net:      n,
		addr:     net.JoinHostPort(ip.String(), strconv.Itoa(port)),
		ip:       ip,
		port:     port,
		udpAddr:  &net.UDPAddr{IP: ip, Port: port},
		tcpAddr:  &net.TCPAddr{IP: ip, Port: port},
		packetCh: make(chan *memberlist.Packet, min(n.queueSize, packetChSize)),
		streamCh: make(chan net.Conn, streamBacklog),
		done:     make(chan struct{}),
	}
}

// TransportStats counts one Transport's packets since it was created.
type TransportStats struct {
	PacketsSent     uint64 // packets accepted by WriteTo, whatever their fate
	PacketsReceived uint64 // packets queued on its PacketCh
	BytesSent       uint64 // payload bytes of PacketsSent
	BytesReceived   uint64 // payload bytes of PacketsReceived
}

// Stats returns the Transport's counters.
func (t *Transport) Stats() TransportStats {
	return TransportStats{
		PacketsSent:     t.stats.packetsSent.Load(),
		PacketsReceived: t.stats.packetsReceived.Load(),
		BytesSent:       t.stats.bytesSent.Load(),
		BytesReceived:   t.stats.bytesReceived.Load(),
	}
}

// Addr returns the Transport's address, "ip:port".
func (t *Transport) Addr() string { return t.addr }

// FinalAdvertiseAddr returns the Transport's own IP and port, ignoring the
// configured ones.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

// WriteTo sends b as one packet to addr. It never blocks and fails only when
// the Transport is shut down: a packet that is lost, partitioned, or sent to
// a full queue or an absent node is dropped silently and counted in Stats.
// b may be reused once WriteTo returns.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.shut.Load() {
		return time.Time{}, fmt.Errorf("write to %s: %w", addr, ErrShutdown)
	}
	now := time.Now()
	t.net.send(t, addr, b)
	return now, nil
}

// WriteToAddress is WriteTo(b, a.Addr).
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// enqueue queues pkt for PacketCh, in order; false means the queue holds
// QueueSize packets already, or the Transport is shut down.
func (t *Transport) enqueue(pkt *memberlist.Packet) bool {
	t.qmu.Lock()
	defer t.qmu.Unlock()
	if t.qclosed {
		return false
	}
	if !t.pumping {
		select {
		case t.packetCh <- pkt:
			return true
		default:
		}
	}
	if len(t.packetCh)+len(t.backlog) >= t.net.queueSize {
		return false
	}
	t.backlog = append(t.backlog, pkt)
	if !t.pumping {
		t.pumping = true
		t.pumps.Add(1)
		go t.pump()
	}
	return true
}

// pump moves the backlog into packetCh until it is empty or the
// Transport shuts down.
func (t *Transport) pump() {
	defer t.pumps.Done()
	for {
		t.qmu.Lock()
		if len(t.backlog) == 0 {
			t.backlog, t.pumping = nil, false
			t.qmu.Unlock()
			return
		}
		pkt := t.backlog[0] // stays queued, and counted, until sent
		t.qmu.Unlock()
		select {
		case t.packetCh <- pkt:
			t.qmu.Lock()
			t.backlog[0] = nil
			t.backlog = t.backlog[1:]
			t.qmu.Unlock()
		case <-t.done:
			t.qmu.Lock()
			t.backlog, t.pumping = nil, false
			t.qmu.Unlock()
			return
		}
	}
}

// PacketCh returns the channel of packets sent to this Transport. It is
// never closed.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh returns the channel of accepted streams. It is never closed; the
// reader owns each conn and must close it.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout opens a stream to addr; the other end is delivered on the
// peer's StreamCh. It waits out the dial delay (SetDelay, SetNodeDelay) and
// a full accept backlog for at most timeout (0: no limit), then fails with
// an error wrapping os.ErrDeadlineExceeded. It fails with ErrRefused if no
// Transport runs at addr and with ErrUnreachable across a partition.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.dial(addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// DialAddressTimeout is DialTimeout(a.Addr, timeout).
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *Transport) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if t.shut.Load() {
		return nil, ErrShutdown
	}
	start := time.Now()
	f := t.net.faults.Load()
	if !f.connected(t.addr, addr) {
		return nil, ErrUnreachable
	}
	if d := f.delayFor(t.addr, addr); d > 0 {
		late := timeout > 0 && d >= timeout
		if late {
			d = timeout
		}
		wait := time.NewTimer(d)
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-t.done:
			return nil, ErrShutdown
		}
		if late {
			return nil, os.ErrDeadlineExceeded
		}
	}

	s, dst, err := t.connect(addr)
	if err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout - time.Since(start))
		defer tm.Stop()
		expired = tm.C
	}
	select {
	case dst.streamCh <- s.b:
		t.net.stats.streams.Add(1)
		return s.a, nil
	case <-dst.done:
		err = ErrRefused
	case <-t.done:
		err = ErrShutdown
	case <-expired:
		err = os.ErrDeadlineExceeded
	}
	s.a.Close()
	s.b.Close()
	return nil, err
}

// connect creates and registers a stream to addr. Checking the target and
// the partition under the same lock as Shutdown and Partition ensures that
// no stream escapes their sweep.
func (t *Transport) connect(addr string) (*stream, *Transport, error) {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if t.shut.Load() {
		return nil, nil, ErrShutdown
	}
	if !n.faults.Load().connected(t.addr, addr) {
		return nil, nil, ErrUnreachable
	}
	dst := n.nodes[addr]
	if dst == nil {
		return nil, nil, ErrRefused
	}
	s := newStream(n, t, dst)
	n.streams[s] = struct{}{}
	return s, dst, nil
}

// Shutdown stops the Transport: packets to it are dropped, dials to it fail
// with ErrRefused, its own WriteTo and dials fail with ErrShutdown, and its
// ends of open streams are closed, so peers read io.EOF. Its channels stay
// open. Shutdown is idempotent and returns when all of this is done.
func (t *Transport) Shutdown() error {
	n := t.net
	n.mu.Lock()
	if t.shut.Load() {
		n.mu.Unlock()
		return nil
	}
	t.shut.Store(true)
	if n.nodes[t.addr] == t {
		delete(n.nodes, t.addr)
	}
	var ends []*conn
	for s := range n.streams {
		if s.a.owner == t.addr {
			ends = append(ends, s.a)
		}
		if s.b.owner == t.addr {
			ends = append(ends, s.b)
		}
	}
	n.mu.Unlock()
	close(t.done)
	for _, c := range ends {
		c.Close()
	}
	// An enqueue before this has started its feeder; later ones refuse.
	t.qmu.Lock()
	t.qclosed = true
	t.qmu.Unlock()
	t.pumps.Wait()
	return nil
}
