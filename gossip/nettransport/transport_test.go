package nettransport

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) *Transport {
	t.Helper()
	tr, err := New(Config{BindAddr: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown() })
	return tr
}

func addr(tr *Transport) string { return "127.0.0.1:" + strconv.Itoa(tr.Port()) }

func TestPacketArrivesSizedToItself(t *testing.T) {
	a, b := open(t), open(t)
	msg := []byte("ping from a")
	if _, err := a.WriteTo(msg, addr(b)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.PacketCh():
		if !bytes.Equal(p.Buf, msg) {
			t.Fatalf("got %q, want %q", p.Buf, msg)
		}
		if cap(p.Buf) > 2*len(msg) {
			t.Errorf("packet buffer holds %d bytes for a %d-byte packet", cap(p.Buf), len(msg))
		}
		if p.From.String() != addr(a) {
			t.Errorf("from %s, want %s", p.From, addr(a))
		}
		if p.Timestamp.IsZero() {
			t.Error("no timestamp")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no packet within 10s")
	}
}

func TestPacketsDoNotShareTheReadBuffer(t *testing.T) {
	a, b := open(t), open(t)
	for _, m := range []string{"first, longer", "second"} {
		if _, err := a.WriteTo([]byte(m), addr(b)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 2 {
		select {
		case p := <-b.PacketCh():
			got = append(got, string(p.Buf))
		case <-time.After(10 * time.Second):
			t.Fatal("packet missing after 10s")
		}
	}
	if got[0] != "first, longer" || got[1] != "second" {
		t.Fatalf("got %q: a later read overwrote an earlier packet", got)
	}
}

func TestStream(t *testing.T) {
	a, b := open(t), open(t)
	c, err := a.DialTimeout(addr(b), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("push/pull")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case s := <-b.StreamCh():
		defer s.Close()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "push/pull" {
			t.Fatalf("read %q, %v", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stream within 10s")
	}
}

func TestAdvertise(t *testing.T) {
	tr := open(t)
	ip, port, err := tr.FinalAdvertiseAddr("", 0)
	if err != nil || ip.String() != "127.0.0.1" || port != tr.Port() {
		t.Errorf("bound address: got %v:%d, %v; want 127.0.0.1:%d", ip, port, err, tr.Port())
	}
	ip, port, err = tr.FinalAdvertiseAddr("10.1.2.3", 7000)
	if err != nil || ip.String() != "10.1.2.3" || len(ip) != 4 || port != 7000 {
		t.Errorf("given address: got %v (%d bytes):%d, %v", ip, len(ip), port, err)
	}
	if _, _, err := tr.FinalAdvertiseAddr("not-an-ip", 1); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("bad address: got %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	taken := open(t)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{BindAddr: "localhost"}, "not an IP address"},
		{Config{BindAddr: "127.0.0.1", BindPort: 70000}, "out of range"},
		{Config{BindAddr: "127.0.0.1", BindPort: taken.Port()}, "address already in use"},
	} {
		tr, err := New(c.cfg)
		if err == nil {
			tr.Shutdown()
			t.Errorf("%+v: no error", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want it to say %q", c.cfg, err, c.want)
		}
	}
}

func TestShutdownWhileNobodyReads(t *testing.T) {
	a, b := open(t), open(t)
	for i := range 2 * packetQueue {
		if _, err := a.WriteTo([]byte{byte(i)}, addr(b)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := a.DialTimeout(addr(b), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- b.Shutdown() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown blocked with packets and a connection nobody took")
	}
	if err := b.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
