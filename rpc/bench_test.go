package rpc_test

import (
	"fmt"
	"testing"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

// BenchmarkMembers measures a members call on an open connection, 20
// members: the round trip `agent members` and Serf's client pay.
func BenchmarkMembers(b *testing.B) {
	fake := &rpctest.Agent{}
	cfg := rpc.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = fake, fake, fake, fake
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	var ms []events.Member
	for i := range 20 {
		ms = append(ms, rpctest.Member(fmt.Sprintf("node-%02d", i), "10.0.0.1", events.StatusAlive, map[string]string{"role": "web", "dc": "eu-1"}))
	}
	fake.SetMembers(ms...)
	ctx := b.Context()
	c, err := rpc.Dial(ctx, srv.Addr().String(), "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Members(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
