package rpc_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestRPCOverTLS(t *testing.T) {
	files := rpctest.WriteTLSFiles(t, t.TempDir())
	serverConf, err := rpc.ServerTLS(files.ServerCert, files.ServerKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	h := startServer(t, func(c *rpc.ServerConfig) { c.TLS = serverConf })

	withCert, err := rpc.ClientTLS(files.CA, files.ClientCert, files.ClientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.DialWith(testCtx(t), h.addr, rpc.DialOptions{TLS: withCert})
	if err != nil {
		t.Fatalf("dial with a client certificate: %v", err)
	}
	if _, err := c.Members(testCtx(t)); err != nil {
		t.Fatalf("members over TLS: %v", err)
	}
	c.Close()

	noCert, _ := rpc.ClientTLS(files.CA, "", "", "")
	if c, err := rpc.DialWith(testCtx(t), h.addr, rpc.DialOptions{TLS: noCert}); err == nil {
		c.Close()
		t.Error("dial without a client certificate succeeded; the server requires one")
	}
	if c, err := rpc.Dial(testCtx(t), h.addr, ""); err == nil {
		c.Close()
		t.Error("a plaintext client was served by a TLS server")
	}
	wrongName, _ := rpc.ClientTLS(files.CA, files.ClientCert, files.ClientKey, "other.example")
	if c, err := rpc.DialWith(testCtx(t), h.addr, rpc.DialOptions{TLS: wrongName}); err == nil {
		c.Close()
		t.Error("dial checking another server name succeeded")
	}
}

func TestServerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	a := rpctest.WriteTLSFiles(t, filepath.Join(mkdir(t, dir, "a")))
	b := rpctest.WriteTLSFiles(t, filepath.Join(mkdir(t, dir, "b")))
	for _, tc := range []struct {
		name, cert, key, ca, want string
	}{
		{"key of another certificate", a.ServerCert, b.ServerKey, "", "private key does not match public key"},
		{"missing key", a.ServerCert, "", "", "both a certificate and a key"},
		{"CA that is not PEM", a.ServerCert, a.ServerKey, a.ServerKey, "no PEM certificate"},
		{"missing certificate file", filepath.Join(dir, "nope.pem"), a.ServerKey, "", "nope.pem"},
	} {
		if _, err := rpc.ServerTLS(tc.cert, tc.key, tc.ca); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRPCOverUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "rpc.sock")
	addr := rpc.UnixPrefix + sock
	// A stale socket from a crashed agent is replaced.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	h := startServer(t, func(c *rpc.ServerConfig) { c.Addr = addr })
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	c, err := rpc.Dial(testCtx(t), addr, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Members(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A live socket is not taken over, nor is a file that is not a socket.
	if _, err := rpc.Listen(addr, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("listen on a live socket: %v; want a refusal", err)
	}
	plain := filepath.Join(dir, "file")
	if err := os.WriteFile(plain, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.Listen(rpc.UnixPrefix+plain, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen on a regular file: %v; want a refusal", err)
	}
	if data, _ := os.ReadFile(plain); string(data) != "data" {
		t.Error("the regular file was changed")
	}
	_ = h
}
