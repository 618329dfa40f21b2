package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func TestCLIOverUnixSocketAndTLS(t *testing.T) {
	f := &rpctest.Agent{MembersList: []events.Member{{Name: "web-1", Status: events.StatusAlive}}}
	sock := rpc.UnixPrefix + filepath.Join(t.TempDir(), "rpc.sock")
	serveOn(t, f, sock, "", nil)
	res := runCLI(t, "members", "--rpc-addr", sock)
	res.check(t, exitOK, "")
	if !strings.Contains(res.stdout, "web-1") {
		t.Errorf("members over a unix socket: %q", res.stdout)
	}

	files := rpctest.WriteTLSFiles(t, t.TempDir())
	tcp := "127.0.0.1:" + strconv.Itoa(freePort(t))
	serveOn(t, f, tcp, "", &files)
	res = runCLI(t, "members", "--rpc-addr", tcp, "--rpc-tls-ca-file", files.CA,
		"--rpc-tls-cert-file", files.ClientCert, "--rpc-tls-key-file", files.ClientKey)
	res.check(t, exitOK, "")
	if !strings.Contains(res.stdout, "web-1") {
		t.Errorf("members over TLS: %q", res.stdout)
	}
	res = runCLI(t, "members", "--rpc-addr", tcp, "--rpc-tls-ca-file", files.CA)
	if res.code != exitFailure || !strings.Contains(res.stderr, "connecting to agent at "+tcp) {
		t.Errorf("without a client certificate: exit %d, stderr %q; want a failure to connect", res.code, res.stderr)
	}
	res = runCLI(t, "members", "--rpc-addr", tcp, "--rpc-tls-ca-file", filepath.Join(t.TempDir(), "missing.pem"))
	if res.code != exitFailure || !strings.Contains(res.stderr, "missing.pem") {
		t.Errorf("missing CA file: exit %d, stderr %q; want an error naming it", res.code, res.stderr)
	}
}
