package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"
)

// UnixPrefix starts an RPC address that is a unix socket path:
// "unix:///run/agent/rpc.sock".
const UnixPrefix = "unix://"

// SplitAddr returns the network ("tcp" or "unix") and the address to
// listen on or dial for an RPC address.
func SplitAddr(addr string) (network, address string) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		return "unix", path
	}
	return "tcp", addr
}

// Listen opens the RPC listener for addr: a TCP address, or UnixPrefix
// and a path. A unix socket is made readable and writable by the owner
// only (mode 0600), and a stale socket left by a crashed agent is
// replaced; a live one, or any other file at the path, is an error. With
// tlsConf, TCP connections speak TLS.
func Listen(addr string, tlsConf *tls.Config) (net.Listener, error) {
	network, address := SplitAddr(addr)
	if network == "unix" {
		if err := removeStaleSocket(address); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("rpc listen %s: %w", addr, err)
	}
	if network == "unix" {
		if err := os.Chmod(address, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("rpc listen %s: %w", addr, err)
		}
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return ln, nil
}

// removeStaleSocket removes a socket at path that nobody listens on.
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rpc listen unix://%s: %w", path, err)
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("rpc listen unix://%s: the path exists and is not a socket; not replacing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("rpc listen unix://%s: another process is serving on this socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("rpc listen unix://%s: remove the stale socket: %w", path, err)
	}
	return nil
}

// dialConn connects to addr (TCP or unix), with TLS when tlsConf is set.
// Without a ServerName in tlsConf, the host of a TCP address is used.
func dialConn(ctx context.Context, addr string, tlsConf *tls.Config) (net.Conn, error) {
	network, address := SplitAddr(addr)
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil || tlsConf == nil {
		return nc, err
	}
	conf := tlsConf.Clone()
	if conf.ServerName == "" && network == "tcp" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			conf.ServerName = host
		}
	}
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}

// ServerTLS builds the server's TLS configuration from PEM files: its
// certificate and key, and optionally a CA whose certificates clients
// must then present. Errors name the file and the problem, such as a key
// that does not match its certificate.
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("rpc tls: both a certificate and a key file are needed")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("rpc tls: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return nil, err
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return conf, nil
}

// ClientTLS builds a client's TLS configuration: caFile verifies the
// agent's certificate (empty: the system's roots); certFile and keyFile,
// if given, are the client's own certificate; serverName overrides the
// name checked against the agent's certificate.
func ClientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	conf := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("rpc tls: client certificate %s with key %s: %w", certFile, keyFile, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rpc tls: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("rpc tls: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
