package memnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// isTimeout reports whether err is a net.Error timeout wrapping
// os.ErrDeadlineExceeded, as callers of net.Conn expect.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestDeadlines(t *testing.T) {
	const d = 30 * time.Millisecond
	tests := []struct {
		name    string
		run     func(c, peer net.Conn) error // returns the error of the timed call
		minWait time.Duration
	}{
		{"read deadline", func(c, _ net.Conn) error {
			c.SetReadDeadline(time.Now().Add(d))
			_, err := c.Read(make([]byte, 1))
			return err
		}, d},
		{"deadline in the past", func(c, _ net.Conn) error {
			c.SetDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 1))
			return err
		}, 0},
		{"write deadline on a full pipe", func(c, _ net.Conn) error {
			c.SetWriteDeadline(time.Now().Add(d))
			n, err := c.Write(make([]byte, 2*pipeLimit))
			if n != pipeLimit {
				return fmt.Errorf("Write wrote %d bytes; want %d", n, pipeLimit)
			}
			return err
		}, d},
		{"deadline moved while blocked", func(c, _ net.Conn) error {
			c.SetReadDeadline(time.Now().Add(time.Hour))
			time.AfterFunc(d, func() { c.SetReadDeadline(time.Now()) })
			_, err := c.Read(make([]byte, 1))
			return err
		}, d},
		{"expired deadline beats buffered data", func(c, peer net.Conn) error {
			if _, err := peer.Write([]byte("x")); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 1))
			return err
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newNet(t, Config{}, 2)
			c, peer := dialPair(t, ts[0], ts[1])
			start := time.Now()
			if err := tc.run(c, peer); !isTimeout(err) {
				t.Fatalf("err = %v; want a timeout wrapping os.ErrDeadlineExceeded", err)
			}
			if got := time.Since(start); got < tc.minWait {
				t.Errorf("timed out after %v; want >= %v", got, tc.minWait)
			}
		})
	}
}

func TestDeadlineCleared(t *testing.T) {
	_, ts := newNet(t, Config{}, 2)
	c, peer := dialPair(t, ts[0], ts[1])
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("Read past the deadline = %v; want a timeout", err)
	}

	c.SetReadDeadline(time.Time{})
	_, err := peer.Write([]byte("y"))
	mustOK(t, err, "Write")
	buf := make([]byte, 1)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("Read after clearing the deadline = %q, %v; want \"y\", nil", buf[:n], err)
	}
}

func TestDialDelay(t *testing.T) {
	const d = 80 * time.Millisecond
	nw, ts := newNet(t, Config{}, 2)
	nw.SetDelay(d)

	_, err := ts[0].DialTimeout(ts[1].Addr(), d/4)
	wantErr(t, err, os.ErrDeadlineExceeded, "dial with a timeout shorter than the delay")

	start := time.Now()
	c, err := ts[0].DialTimeout(ts[1].Addr(), 5*time.Second)
	mustOK(t, err, "dial")
	c.Close()
	if got := time.Since(start); got < d {
		t.Errorf("dial took %v; want >= %v", got, d)
	}
}

func TestDialBacklogFull(t *testing.T) {
	_, ts := newNet(t, Config{}, 2)
	for i := range streamBacklog {
		c, err := ts[0].DialTimeout(ts[1].Addr(), time.Second)
		mustOK(t, err, fmt.Sprintf("dial %d", i))
		defer c.Close()
	}
	_, err := ts[0].DialTimeout(ts[1].Addr(), 20*time.Millisecond)
	wantErr(t, err, os.ErrDeadlineExceeded, "dial with nobody accepting")
}

// TestWriteCompletesDespiteClose checks that a Write whose bytes were all
// buffered succeeds even if the reader takes them and closes at once; an
// early version reported io.ErrClosedPipe, and memberlist logged "Failed to
// push local state" after push/pulls that had worked.
func TestWriteCompletesDespiteClose(t *testing.T) {
	for i := range 2000 {
		p := newPipe()
		got := make(chan int)
		go func() {
			n, _ := p.read(make([]byte, 1), nil)
			p.closeReader()
			got <- n
		}()
		n, err := p.write([]byte("x"), nil)
		if read := <-got; read == 1 && (n != 1 || err != nil) {
			t.Fatalf("round %d: write = %d, %v after the reader got the byte; want 1, nil", i, n, err)
		}
	}
}
