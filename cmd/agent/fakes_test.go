package main

import (
	"net"
	"testing"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

// serve starts an rpc.Server for the fake agent f on a free 127.0.0.1 port
// and returns its address and the server; the server is shut down when the
// test ends.
func serve(t *testing.T, f *rpctest.Agent, authKey string) (string, *rpc.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := rpc.DefaultServerConfig()
	cfg.Listener = ln
	cfg.AuthKey = authKey
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = f, f, f, f
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return ln.Addr().String(), srv
}
