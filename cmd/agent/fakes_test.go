package main

import (
	"testing"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

// serve starts an rpc.Server for the fake agent f on a free 127.0.0.1 port
// and returns its address and the server; the server is shut down when the
// test ends.
func serve(t *testing.T, f *rpctest.Agent, authKey string) (string, *rpc.Server) {
	t.Helper()
	srv := serveOn(t, f, "127.0.0.1:0", authKey, nil)
	return srv.Addr().String(), srv
}

// serveOn serves f on addr (TCP or unix://), with TLS from files if given.
func serveOn(t *testing.T, f *rpctest.Agent, addr, authKey string, files *rpctest.TLSFiles) *rpc.Server {
	t.Helper()
	cfg := rpc.DefaultServerConfig()
	cfg.Addr, cfg.AuthKey = addr, authKey
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = f, f, f, f
	if files != nil {
		conf, err := rpc.ServerTLS(files.ServerCert, files.ServerKey, files.CA)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = conf
	}
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}
