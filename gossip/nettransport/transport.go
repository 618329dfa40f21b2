// Package nettransport is a memberlist Transport over UDP and TCP on one
// address and port, as memberlist's own NetTransport, with one difference
// that matters at scale: a received packet is read into one reused 64 KB
// buffer and handed on as a copy of its own size, where memberlist's
// allocates (and the collector then clears and scans) 64 KB per packet.
// On a 100-agent fleet that allocation and the garbage collections it
// drives were a fifth of each agent's CPU.
//
// The wire is unchanged: the same UDP datagrams and TCP streams, so peers
// running memberlist's transport (Serf) see no difference.
package nettransport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

const (
	// maxPacket is the largest UDP payload that can arrive.
	maxPacket = 65536
	// socketBuffer is the UDP receive buffer asked of the kernel, halved
	// until it is granted: bursts of gossip must not be dropped while
	// memberlist is busy.
	socketBuffer = 2 << 20
	// packetQueue is how many received packets may wait for memberlist.
	packetQueue = 256
)

// Config says where to listen.
type Config struct {
	// BindAddr is an IP address; 0.0.0.0 or :: listens on every interface.
	BindAddr string
	// BindPort is the UDP and TCP port; 0 picks one free for both.
	BindPort int
	// Logger receives accept and read errors; nil discards them.
	Logger *slog.Logger
}

// Transport implements memberlist.NodeAwareTransport.
type Transport struct {
	bindIP   net.IP
	tcp      *net.TCPListener
	udp      *net.UDPConn
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	logger   *slog.Logger
	shutdown atomic.Bool
	done     chan struct{} // closed by Shutdown
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// New listens on cfg.BindAddr:cfg.BindPort (TCP and UDP) and starts
// reading; Shutdown stops it.
func New(cfg Config) (*Transport, error) {
	ip := net.ParseIP(cfg.BindAddr)
	if ip == nil {
		return nil, fmt.Errorf("bind address %q is not an IP address", cfg.BindAddr)
	}
	if cfg.BindPort < 0 || cfg.BindPort > 65535 {
		return nil, fmt.Errorf("bind port %d out of range 0-65535", cfg.BindPort)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tcp, udp, err := listen(ip, cfg.BindPort)
	if err != nil {
		return nil, err
	}
	if err := growReadBuffer(udp); err != nil {
		logger.Warn("could not enlarge the UDP receive buffer", "err", err)
	}
	t := &Transport{
		bindIP:  ip,
		tcp:     tcp,
		udp:     udp,
		packets: make(chan *memberlist.Packet, packetQueue),
		streams: make(chan net.Conn),
		logger:  logger,
		done:    make(chan struct{}),
	}
	t.wg.Add(2)
	go t.acceptLoop()
	go t.readLoop()
	return t, nil
}

// listen opens TCP then UDP on the same port. With port 0 the kernel
// picks the TCP port, which may be taken for UDP: try a few.
func listen(ip net.IP, port int) (*net.TCPListener, *net.UDPConn, error) {
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var tcp *net.TCPListener
		tcp, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
		if err != nil {
			return nil, nil, fmt.Errorf("listen on TCP %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), err)
		}
		bound := tcp.Addr().(*net.TCPAddr).Port
		var udp *net.UDPConn
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: bound})
		if err == nil {
			return tcp, udp, nil
		}
		tcp.Close()
		err = fmt.Errorf("listen on UDP %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(bound)), err)
	}
	return nil, nil, err
}

func growReadBuffer(c *net.UDPConn) error {
	var err error
	for size := socketBuffer; size > 0; size /= 2 {
		if err = c.SetReadBuffer(size); err == nil {
			return nil
		}
	}
	return err
}

// Port returns the port listened on (the chosen one when BindPort was 0).
func (t *Transport) Port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr implements memberlist.Transport: the given address
// if any; else, when bound to every interface, a private address of this
// machine; else the bound address.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, 0, fmt.Errorf("advertise address %q is not an IP address", ip)
		}
		if v4 := addr.To4(); v4 != nil {
			addr = v4
		}
		return addr, port, nil
	}
	if !t.bindIP.IsUnspecified() {
		return t.bindIP, t.Port(), nil
	}
	private, err := sockaddr.GetPrivateIP()
	if err != nil {
		return nil, 0, fmt.Errorf("find a private address to advertise: %w", err)
	}
	if private == "" {
		return nil, 0, errors.New("no private IP address found to advertise; give one")
	}
	return net.ParseIP(private), t.Port(), nil
}

// WriteTo implements memberlist.Transport.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, to)
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// DialTimeout implements memberlist.Transport.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", a.Addr)
}

// StreamCh implements memberlist.Transport.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown implements memberlist.Transport: it closes both sockets and
// waits for the reading goroutines.
func (t *Transport) Shutdown() error {
	if t.shutdown.Swap(true) {
		return nil
	}
	close(t.done)
	err := errors.Join(t.tcp.Close(), t.udp.Close())
	t.wg.Wait()
	return err
}

// acceptLoop hands accepted connections to memberlist. Accept errors
// other than shutdown back off from 5 ms to 1 s, so a full file table
// does not spin.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.logger.Error("accept TCP connection", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case t.streams <- conn:
		case <-t.done:
			conn.Close()
			return
		}
	}
}

// readLoop reads every datagram into one buffer and hands memberlist a
// copy of exactly its size.
func (t *Transport) readLoop() {
	defer t.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := t.udp.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			t.logger.Error("read UDP packet", "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		metrics.IncrCounter([]string{"memberlist", "udp", "received"}, float32(n))
		p := &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: at}
		select {
		case t.packets <- p:
		case <-t.done:
			return
		}
	}
}
