package memnet

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelay(t *testing.T) {
	const d = 50 * time.Millisecond
	tests := []struct {
		name  string
		apply func(nw *Network, from, to *Transport)
		want  time.Duration
	}{
		{"network", func(nw *Network, _, _ *Transport) { nw.SetDelay(d) }, d},
		{"slow receiver", func(nw *Network, _, to *Transport) { nw.SetNodeDelay(to.Addr(), d) }, d},
		{"slow sender", func(nw *Network, from, _ *Transport) { nw.SetNodeDelay(from.Addr(), d) }, d},
		{"delays add up", func(nw *Network, from, _ *Transport) {
			nw.SetDelay(d)
			nw.SetNodeDelay(from.Addr(), d)
		}, 2 * d},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nw, ts := newNet(t, Config{}, 2)
			tc.apply(nw, ts[0], ts[1])
			start := time.Now()
			_, err := ts[0].WriteTo([]byte("late"), ts[1].Addr())
			mustOK(t, err, "WriteTo")
			p := recv(t, ts[1])
			if got := time.Since(start); got < tc.want {
				t.Errorf("packet arrived after %v; want >= %v", got, tc.want)
			}
			if got := p.Timestamp.Sub(start); got < tc.want {
				t.Errorf("Timestamp - send time = %v; want >= %v", got, tc.want)
			}
		})
	}
}

func TestNodeDelayOnlyThatNode(t *testing.T) {
	nw, ts := newNet(t, Config{}, 3)
	a, b, slow := ts[0], ts[1], ts[2]
	nw.SetNodeDelay(slow.Addr(), time.Hour)
	for _, p := range [][2]*Transport{{a, slow}, {slow, a}, {a, b}} {
		_, err := p[0].WriteTo([]byte("x"), p[1].Addr())
		mustOK(t, err, "WriteTo")
	}
	// a->b is not delayed, so it was delivered inside WriteTo.
	if got := len(b.PacketCh()); got != 1 {
		t.Errorf("packets a->b delivered = %d; want 1", got)
	}
	if got := inFlight(nw.Stats()); got != 2 {
		t.Errorf("packets in flight = %d; want 2 (to and from the slow node)", got)
	}

	mustOK(t, nw.Close(), "Close")
	if s := nw.Stats(); inFlight(s) != 0 || s.DroppedClosed != 2 {
		t.Errorf("after Close: Stats() = %+v; want 0 in flight and DroppedClosed 2", s)
	}
}

// TestDelayedDelivery runs on synctest's fake clock, so that a packet's
// delay is exact and no real time passes.
func TestDelayedDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, ts := newNet(t, Config{}, 3)
		a, b, c := ts[0], ts[1], ts[2]
		nw.SetDelay(time.Second)
		start := time.Now()
		for _, to := range []*Transport{b, c} {
			_, err := a.WriteTo([]byte("x"), to.Addr())
			mustOK(t, err, "WriteTo")
		}
		mustOK(t, c.Shutdown(), "Shutdown") // while its packet is in flight

		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if got := len(b.PacketCh()); got != 0 {
			t.Fatalf("1ns before the delay: %d packets delivered; want 0", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		p := recv(t, b)
		if got := p.Timestamp.Sub(start); got != time.Second {
			t.Errorf("delivered after %v; want exactly 1s", got)
		}
		if s := nw.Stats(); s.PacketsDelivered != 1 || s.DroppedClosed != 1 || len(c.PacketCh()) != 0 {
			t.Errorf("Stats() = %+v, %d queued on the shut-down node; want 1 delivered, 1 dropped, 0 queued",
				s, len(c.PacketCh()))
		}
	})
}

func TestQueueFull(t *testing.T) {
	nw, ts := newNet(t, Config{QueueSize: 4}, 2)
	for range 10 {
		_, err := ts[0].WriteTo([]byte("x"), ts[1].Addr()) // must not block
		mustOK(t, err, "WriteTo")
	}
	if got := len(ts[1].PacketCh()); got != 4 {
		t.Errorf("queued packets = %d; want 4", got)
	}
	if got := nw.Stats().DroppedQueueFull; got != 6 {
		t.Errorf("Stats().DroppedQueueFull = %d; want 6", got)
	}
}

// TestQueueBacklog: past PacketCh's buffer, packets wait in order up to
// QueueSize, and the rest are dropped.
func TestQueueBacklog(t *testing.T) {
	const size, sent = 3 * packetChSize, 4 * packetChSize
	nw, ts := newNet(t, Config{QueueSize: size}, 2)
	for i := range sent {
		_, err := ts[0].WriteTo([]byte{byte(i)}, ts[1].Addr()) // must not block
		mustOK(t, err, "WriteTo")
	}
	if got := nw.Stats().DroppedQueueFull; got != sent-size {
		t.Errorf("Stats().DroppedQueueFull = %d; want %d", got, sent-size)
	}
	for i := range size {
		select {
		case p := <-ts[1].PacketCh():
			if p.Buf[0] != byte(i) {
				t.Fatalf("packet %d carries %d; want them in order", i, p.Buf[0])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d of %d never arrived", i, size)
		}
	}
	select {
	case p := <-ts[1].PacketCh():
		t.Fatalf("packet %d arrived past QueueSize", p.Buf[0])
	default:
	}
}

// TestConcurrentFaults runs packets and streams while faults change; it is
// meant for -race, and checks that every packet is accounted for.
func TestConcurrentFaults(t *testing.T) {
	const nodes, minPerSender = 16, 300
	nw, ts := newNet(t, Config{Seed: 7, QueueSize: 64}, nodes)
	addrs := make([]string, nodes)
	for i, tr := range ts {
		addrs[i] = tr.Addr()
	}

	stop := make(chan struct{})
	var switched atomic.Bool
	var readers, senders sync.WaitGroup
	for _, tr := range ts {
		readers.Go(func() {
			for {
				select {
				case <-tr.PacketCh():
				case c := <-tr.StreamCh():
					c.Write([]byte("hi"))
					c.Close()
				case <-stop:
					return
				}
			}
		})
	}
	for i, tr := range ts {
		senders.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for k := 0; k < minPerSender || !switched.Load(); k++ {
				to := addrs[r.IntN(nodes)]
				if k%50 == 0 {
					if c, err := tr.DialTimeout(to, 50*time.Millisecond); err == nil {
						c.SetDeadline(time.Now().Add(time.Second))
						c.Read(make([]byte, 2))
						c.Close()
					}
					continue
				}
				if _, err := tr.WriteTo([]byte("payload"), to); err != nil {
					t.Errorf("WriteTo(%s) = %v; want nil", to, err)
					return
				}
			}
		})
	}
	senders.Go(func() { // the fault switcher
		defer switched.Store(true)
		for i := range 100 {
			switch i % 5 {
			case 0:
				nw.SetLoss(0.3)
			case 1:
				nw.SetDelay(time.Millisecond)
				nw.SetNodeDelay(addrs[i%nodes], 2*time.Millisecond)
			case 2:
				nw.Partition(addrs[:nodes/2], addrs[nodes/2:])
			case 3:
				nw.SetLinkLoss(addrs[0], addrs[1], 1)
				nw.Heal()
			case 4:
				nw.Reset()
			}
			// Hold the state until some traffic has gone through it.
			base, giveUp := nw.Stats().PacketsSent, time.Now().Add(10*time.Second)
			for nw.Stats().PacketsSent < base+50 && time.Now().Before(giveUp) {
				runtime.Gosched()
			}
		}
	})
	senders.Wait()
	mustOK(t, nw.Close(), "Close")
	close(stop)
	readers.Wait()

	// A delayed delivery already firing when Close ran finishes just after.
	eventually(t, 5*time.Second, func() bool { return inFlight(nw.Stats()) == 0 },
		func() string { return fmt.Sprintf("packets unaccounted for: Stats() = %+v", nw.Stats()) })
	if s := nw.Stats(); s.PacketsDelivered == 0 || s.DroppedLoss == 0 || s.DroppedPartition == 0 {
		t.Errorf("Stats() = %+v; want some delivered, lost and partitioned", s)
	}
}
