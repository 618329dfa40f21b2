package memnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// newNet returns a Network closed at the end of the test and n transports.
func newNet(t *testing.T, cfg Config, n int) (*Network, []*Transport) {
	t.Helper()
	nw := New(cfg)
	t.Cleanup(func() { _ = nw.Close() })
	ts := make([]*Transport, n)
	for i := range ts {
		ts[i] = nw.NewTransport()
	}
	return nw, ts
}

// recv waits up to 5 s for a packet on tr.
func recv(t *testing.T, tr *Transport) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no packet for %s within 5s", tr.Addr())
		return nil
	}
}

// eventually polls cond every 10 ms until it holds or timeout passes, then
// fails with the message msg returns.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg())
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// mustOK fails the test now if err is not nil.
func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports an error unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v; want %v", what, err, target)
	}
}

// inFlight is the number of packets sent whose fate is not known yet.
func inFlight(s Stats) uint64 { return s.PacketsSent - s.PacketsDelivered - s.Dropped() }

func TestAddresses(t *testing.T) {
	_, ts := newNet(t, Config{}, 3)
	for i, tr := range ts {
		want := "127.0.0.1:" + strconv.Itoa(20000+i)
		if got := tr.Addr(); got != want {
			t.Errorf("transport %d: Addr() = %s; want %s", i, got, want)
		}
		ip, port, err := tr.FinalAdvertiseAddr("10.1.2.3", 7946)
		got := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		if err != nil || got != want {
			t.Errorf("FinalAdvertiseAddr(10.1.2.3, 7946) = %s, %v; want %s", got, err, want)
		}
	}
}

func TestPacketDelivery(t *testing.T) {
	nw, ts := newNet(t, Config{}, 2)
	a, b := ts[0], ts[1]
	buf := []byte("hello")
	before := time.Now()
	sent, err := a.WriteTo(buf, b.Addr())
	mustOK(t, err, "WriteTo")
	copy(buf, "XXXXX") // the sender may reuse its buffer
	_, err = a.WriteToAddress([]byte("world"), memberlist.Address{Addr: b.Addr(), Name: "b"})
	mustOK(t, err, "WriteToAddress")
	if sent.Before(before) {
		t.Errorf("WriteTo time %v before the call at %v", sent, before)
	}

	for _, want := range []string{"hello", "world"} {
		p := recv(t, b)
		if string(p.Buf) != want || p.From.String() != a.Addr() || p.Timestamp.Before(before) {
			t.Errorf("packet = %q from %s at %v; want %q from %s after %v",
				p.Buf, p.From, p.Timestamp, want, a.Addr(), before)
		}
	}
	if got, want := nw.Stats(), (Stats{PacketsSent: 2, PacketsDelivered: 2, BytesSent: 10, BytesDelivered: 10}); got != want {
		t.Errorf("Network.Stats() = %+v; want %+v", got, want)
	}
	if got, want := a.Stats(), (TransportStats{PacketsSent: 2, BytesSent: 10}); got != want {
		t.Errorf("sender Stats() = %+v; want %+v", got, want)
	}
	if got, want := b.Stats(), (TransportStats{PacketsReceived: 2, BytesReceived: 10}); got != want {
		t.Errorf("receiver Stats() = %+v; want %+v", got, want)
	}
}

func TestLoss(t *testing.T) {
	const total = 2000
	tests := []struct {
		p        float64
		min, max int
	}{
		{p: 0, min: total, max: total},
		{p: 1, min: 0, max: 0},
		{p: 0.5, min: 850, max: 1150},
		{p: -3, min: total, max: total}, // clamped to 0
	}
	for _, tc := range tests {
		nw, ts := newNet(t, Config{Seed: 42}, 2)
		nw.SetLoss(tc.p)
		for range total {
			_, err := ts[0].WriteTo([]byte{1}, ts[1].Addr())
			mustOK(t, err, "WriteTo")
		}
		got := int(ts[1].Stats().PacketsReceived) // undelayed delivery happens inside WriteTo
		for i := range got {
			select {
			case <-ts[1].PacketCh():
			case <-time.After(5 * time.Second):
				t.Fatalf("SetLoss(%v): packet %d of %d delivered never arrived on PacketCh", tc.p, i+1, got)
			}
		}
		if got < tc.min || got > tc.max {
			t.Errorf("SetLoss(%v): delivered %d of %d; want [%d, %d]", tc.p, got, total, tc.min, tc.max)
		}
		if s := nw.Stats(); s.PacketsDelivered != uint64(got) || s.DroppedLoss != uint64(total-got) {
			t.Errorf("SetLoss(%v): Stats() = %+v; want %d delivered, %d lost", tc.p, s, got, total-got)
		}
	}
}

func TestLinkLoss(t *testing.T) {
	nw, ts := newNet(t, Config{Seed: 1}, 2)
	a, b := ts[0], ts[1]
	steps := []struct {
		name       string
		apply      func()
		aToB, bToA bool // delivered?
	}{
		{"link a->b lost", func() { nw.SetLinkLoss(a.Addr(), b.Addr(), 1) }, false, true},
		{"override beats global", func() { nw.SetLoss(1); nw.SetLinkLoss(a.Addr(), b.Addr(), 0) }, true, false},
		{"override removed", func() { nw.SetLinkLoss(a.Addr(), b.Addr(), -1) }, false, false},
		{"reset", nw.Reset, true, true},
	}
	for _, st := range steps {
		st.apply()
		if got := sendOne(t, a, b); got != st.aToB {
			t.Errorf("%s: a->b delivered = %v; want %v", st.name, got, st.aToB)
		}
		if got := sendOne(t, b, a); got != st.bToA {
			t.Errorf("%s: b->a delivered = %v; want %v", st.name, got, st.bToA)
		}
	}
}

// sendOne sends one packet, which must not be delayed, and reports whether
// it was delivered.
func sendOne(t *testing.T, from, to *Transport) bool {
	t.Helper()
	_, err := from.WriteTo([]byte("x"), to.Addr())
	mustOK(t, err, "WriteTo")
	select {
	case <-to.PacketCh():
		return true
	default:
		return false
	}
}

// canDial reports whether from can open a stream to to; other errors fail.
func canDial(t *testing.T, from, to *Transport) bool {
	t.Helper()
	c, err := from.DialTimeout(to.Addr(), time.Second)
	if errors.Is(err, ErrUnreachable) {
		return false
	}
	mustOK(t, err, "DialTimeout")
	c.Close()
	(<-to.StreamCh()).Close() // a successful dial has queued the other end
	return true
}

func TestPartition(t *testing.T) {
	nw, ts := newNet(t, Config{}, 4)
	a, b, c, d := ts[0], ts[1], ts[2], ts[3]
	names := map[*Transport]string{a: "a", b: "b", c: "c", d: "d"}
	all := map[string]bool{"ab": true, "ac": true, "ad": true, "bc": true, "bd": true, "cd": true}
	steps := []struct {
		name  string
		apply func()
		ok    map[string]bool // pairs that can talk; the others cannot
	}{
		{"no partition", func() {}, all},
		{"{a,b} {c} rest", func() { nw.Partition([]string{a.Addr(), b.Addr()}, []string{c.Addr()}) }, map[string]bool{"ab": true}},
		{"{a} rest", func() { nw.Partition([]string{a.Addr()}) }, map[string]bool{"bc": true, "bd": true, "cd": true}},
		{"heal", nw.Heal, all},
	}
	for _, st := range steps {
		st.apply()
		for i, x := range ts {
			for _, y := range ts[i+1:] {
				want := st.ok[names[x]+names[y]]
				for _, dir := range [][2]*Transport{{x, y}, {y, x}} {
					from, to := dir[0], dir[1]
					if got := sendOne(t, from, to); got != want {
						t.Errorf("%s: packet %s->%s delivered = %v; want %v", st.name, names[from], names[to], got, want)
					}
					if got := canDial(t, from, to); got != want {
						t.Errorf("%s: dial %s->%s = %v; want %v", st.name, names[from], names[to], got, want)
					}
				}
			}
		}
	}
	if nw.Stats().DroppedPartition == 0 {
		t.Error("Stats().DroppedPartition = 0; want > 0")
	}
}

func TestPartitionResetsStreams(t *testing.T) {
	nw, ts := newNet(t, Config{}, 3)
	a, b, c := ts[0], ts[1], ts[2]
	ab, ba := dialPair(t, a, b)
	ac, ca := dialPair(t, a, c)
	_, err := ab.Write([]byte("buffered"))
	mustOK(t, err, "Write")

	nw.Partition([]string{a.Addr(), c.Addr()}, []string{b.Addr()})
	for name, cn := range map[string]net.Conn{"dialer": ab, "acceptor": ba} {
		_, err := cn.Read(make([]byte, 8))
		wantErr(t, err, ErrReset, name+" Read after the cut")
		_, err = cn.Write([]byte("x"))
		wantErr(t, err, ErrReset, name+" Write after the cut")
	}
	_, err = ac.Write([]byte("ok")) // a stream inside a group still works
	mustOK(t, err, "Write within group")
	got := make([]byte, 2)
	_, err = io.ReadFull(ca, got)
	mustOK(t, err, "Read within group")

	nw.Heal()
	_, err = ab.Write([]byte("x"))
	wantErr(t, err, ErrReset, "Write on a reset stream after Heal")
	if !canDial(t, a, b) {
		t.Error("dial after Heal failed")
	}
}

// dialPair opens a stream from a to b and returns both ends, closed at the
// end of the test.
func dialPair(t *testing.T, a, b *Transport) (net.Conn, net.Conn) {
	t.Helper()
	c, err := a.DialTimeout(b.Addr(), time.Second)
	mustOK(t, err, "DialTimeout")
	var s net.Conn
	select {
	case s = <-b.StreamCh():
	case <-time.After(5 * time.Second):
		t.Fatal("no stream accepted within 5s")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestShutdown(t *testing.T) {
	nw, ts := newNet(t, Config{}, 2)
	a, b := ts[0], ts[1]
	ab, _ := dialPair(t, a, b)

	mustOK(t, b.Shutdown(), "Shutdown")
	mustOK(t, b.Shutdown(), "second Shutdown")

	_, err := ab.Read(make([]byte, 1))
	wantErr(t, err, io.EOF, "peer's Read after Shutdown")
	if sendOne(t, a, b) {
		t.Error("packet to a shut-down node was delivered")
	}
	_, err = a.WriteTo([]byte("x"), "127.0.0.1:1")
	mustOK(t, err, "WriteTo an unknown address")
	if got := nw.Stats().DroppedClosed; got != 2 {
		t.Errorf("Stats().DroppedClosed = %d; want 2", got)
	}

	_, err = a.DialTimeout(b.Addr(), time.Second)
	wantErr(t, err, ErrRefused, "dial to a shut-down node")
	_, err = b.WriteTo([]byte("x"), a.Addr())
	wantErr(t, err, ErrShutdown, "WriteTo from a shut-down node")
	_, err = b.DialTimeout(a.Addr(), time.Second)
	wantErr(t, err, ErrShutdown, "dial from a shut-down node")

	select { // the channels stay open: memberlist must not see a closed channel
	case _, ok := <-b.PacketCh():
		t.Errorf("PacketCh after Shutdown received (ok=%v); want it to block", ok)
	case _, ok := <-b.StreamCh():
		t.Errorf("StreamCh after Shutdown received (ok=%v); want it to block", ok)
	default:
	}

	mustOK(t, nw.Close(), "Close")
	_, err = a.WriteTo([]byte("x"), b.Addr())
	wantErr(t, err, ErrShutdown, "WriteTo after Network.Close")
	_, err = nw.NewTransport().WriteTo([]byte("x"), a.Addr())
	wantErr(t, err, ErrShutdown, "WriteTo from a transport created after Close")
}

func TestStreams(t *testing.T) {
	nw, ts := newNet(t, Config{}, 2)
	a, b := ts[0], ts[1]
	ab, ba := dialPair(t, a, b)
	if ab.RemoteAddr().String() != b.Addr() || ba.RemoteAddr().String() != a.Addr() || ab.LocalAddr().String() != a.Addr() {
		t.Errorf("dialer %s->%s, acceptor %s->%s; want %s->%s and back",
			ab.LocalAddr(), ab.RemoteAddr(), ba.LocalAddr(), ba.RemoteAddr(), a.Addr(), b.Addr())
	}
	if got := nw.Stats().StreamsOpened; got != 1 {
		t.Errorf("Stats().StreamsOpened = %d; want 1", got)
	}

	// Both ways, with more data than a pipe buffers, so that Write blocks
	// until the peer reads.
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*pipeLimit/16+7)
	for _, dir := range []struct {
		name string
		w, r net.Conn
	}{{"dialer->acceptor", ab, ba}, {"acceptor->dialer", ba, ab}} {
		var wg sync.WaitGroup
		var werr error
		wg.Go(func() { _, werr = dir.w.Write(big) })
		got := make([]byte, len(big))
		_, err := io.ReadFull(dir.r, got)
		wg.Wait()
		mustOK(t, werr, dir.name+" Write")
		mustOK(t, err, dir.name+" ReadFull")
		if !bytes.Equal(big, got) {
			t.Errorf("%s: received data differs from sent", dir.name)
		}
	}

	_, err := ab.Write([]byte("tail"))
	mustOK(t, err, "Write")
	mustOK(t, ab.Close(), "Close")
	wantErr(t, ab.Close(), net.ErrClosed, "second Close")
	rest, err := io.ReadAll(ba)
	if err != nil || string(rest) != "tail" {
		t.Errorf("ReadAll after the peer closed = %q, %v; want \"tail\", nil", rest, err)
	}
	if _, err := ba.Write([]byte("x")); err == nil {
		t.Error("Write to a closed peer succeeded; want an error")
	}
	_, err = ab.Read(make([]byte, 1))
	wantErr(t, err, net.ErrClosed, "Read after own Close")
}
