package agent

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func strp(s string) *string { return &s }

// startRun runs the daemon in-process on free ports and returns its RPC
// address; the daemon stops when the test ends.
func startRun(t *testing.T, name string, flags *FileConfig) (rpcAddr, gossipAddr string, done <-chan error) {
	t.Helper()
	if flags == nil {
		flags = &FileConfig{}
	}
	flags.NodeName = strp(name)
	flags.BindAddr = strp("127.0.0.1:0")
	flags.RPCAddr = strp("127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, RunOptions{Flags: flags, Stderr: io.Discard, Ready: func(r, g string) { ready <- [2]string{r, g} }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run(%s) = %v; want nil on cancel", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run(%s) did not return after cancel", name)
		}
	})
	select {
	case addrs := <-ready:
		return addrs[0], addrs[1], errc
	case err := <-errc:
		t.Fatalf("Run(%s) = %v before ready", name, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("Run(%s) not ready within 20s", name)
	}
	return "", "", nil
}

func TestRunServesRPCAndJoins(t *testing.T) {
	rpcA, gossipA, _ := startRun(t, "a", &FileConfig{Tags: map[string]string{"role": "web"}})
	rpcB, _, _ := startRun(t, "b", &FileConfig{StartJoin: []string{gossipA}})
	ctx := context.Background()
	for _, addr := range []string{rpcA, rpcB} {
		c, err := rpc.Dial(ctx, addr, "")
		if err != nil {
			t.Fatalf("Dial(%s): %v", addr, err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			ms, err := c.Members(ctx)
			if err != nil {
				t.Fatalf("Members: %v", err)
			}
			alive := 0
			for _, m := range ms {
				if m.Status == events.StatusAlive {
					alive++
				}
			}
			if alive == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("agent at %s sees %d alive members; want 2", addr, alive)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close()
	}
}

func TestRunStartJoinFailureNamesAddresses(t *testing.T) {
	flags := &FileConfig{
		NodeName:  strp("lonely"),
		BindAddr:  strp("127.0.0.1:0"),
		RPCAddr:   strp("127.0.0.1:0"),
		StartJoin: []string{"127.0.0.1:1"},
		Profile:   strp("local"),
		LogLevel:  strp("err"),
	}
	err := Run(context.Background(), RunOptions{Flags: flags, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Run with unreachable --join = %v; want an error naming 127.0.0.1:1", err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := Run(context.Background(), RunOptions{Flags: &FileConfig{Profile: strp("moon")}, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "moon") {
		t.Errorf("Run(profile moon) = %v; want a profile error", err)
	}
	err = Run(context.Background(), RunOptions{ConfigPaths: []string{"/nonexistent/agent.json"}, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/agent.json") {
		t.Errorf("Run(missing file) = %v; want an error naming the file", err)
	}
}

func TestRunRPCTransports(t *testing.T) {
	dir := t.TempDir()
	sock := rpc.UnixPrefix + filepath.Join(dir, "rpc.sock")
	fc := &FileConfig{NodeName: strp("unixy"), BindAddr: strp("127.0.0.1:0"), RPCAddr: strp(sock), Profile: strp("local")}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, RunOptions{Flags: fc, Stderr: io.Discard, Ready: func(r, _ string) { ready <- r }})
	}()
	select {
	case addr := <-ready:
		if addr != sock {
			t.Errorf("ready on %q; want %q", addr, sock)
		}
		c, err := rpc.Dial(context.Background(), addr, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Members(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.Close()
	case err := <-errc:
		t.Fatalf("Run on a unix socket: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}

	a := rpctest.WriteTLSFiles(t, mkdirIn(t, dir, "a"))
	b := rpctest.WriteTLSFiles(t, mkdirIn(t, dir, "b"))
	bad := &FileConfig{NodeName: strp("tls"), BindAddr: strp("127.0.0.1:0"), RPCAddr: strp("127.0.0.1:0"),
		RPCTLSCertFile: strp(a.ServerCert), RPCTLSKeyFile: strp(b.ServerKey)}
	if err := Run(context.Background(), RunOptions{Flags: bad, Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Run with a key of another certificate = %v; want a clear refusal", err)
	}
}

func mkdirIn(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	startRun(t, "notified", nil)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("service manager got %q, %v; want READY=1", buf[:n], err)
	}
}
