package rpc_test

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
)

func validConfig() rpc.ServerConfig {
	cfg := rpc.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	fake := &rpctest.Agent{}
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = fake, fake, fake, fake
	return cfg
}

func TestServerConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*rpc.ServerConfig)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*rpc.ServerConfig) {}, ""},
		{"listener instead of addr", func(c *rpc.ServerConfig) { c.Addr, c.Listener = "", fakeListener{} }, ""},
		{"no address", func(c *rpc.ServerConfig) { c.Addr = "" }, "Addr and Listener"},
		{"no cluster", func(c *rpc.ServerConfig) { c.Cluster = nil }, "Cluster"},
		{"no local", func(c *rpc.ServerConfig) { c.Local = nil }, "Local"},
		{"no events", func(c *rpc.ServerConfig) { c.Events = nil }, "Events"},
		{"no logs", func(c *rpc.ServerConfig) { c.Logs = nil }, "Logs"},
		{"zero queue", func(c *rpc.ServerConfig) { c.QueueSize = 0 }, "queue size"},
		{"zero write timeout", func(c *rpc.ServerConfig) { c.WriteTimeout = 0 }, "write timeout"},
		{"zero leave grace", func(c *rpc.ServerConfig) { c.LeaveGrace = 0 }, ""},
		{"negative leave grace", func(c *rpc.ServerConfig) { c.LeaveGrace = -time.Second }, "leave grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, rpc.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want an ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if _, err := rpc.NewServer(cfg); !errors.Is(err, rpc.ErrInvalidConfig) {
				t.Errorf("NewServer() = %v; want %v", err, rpc.ErrInvalidConfig)
			}
		})
	}
	// Every problem is reported at once.
	if err := (rpc.ServerConfig{}).Validate(); err == nil || strings.Count(err.Error(), "invalid rpc server config") != 7 {
		t.Errorf("ServerConfig{}.Validate() = %v; want 7 problems", err)
	}
}

// fakeListener is a listener that is never used.
type fakeListener struct{ net.Listener }

func TestServerLifecycle(t *testing.T) {
	srv, err := rpc.NewServer(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != nil {
		t.Errorf("Addr() before Start = %v; want nil", srv.Addr())
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil", err)
	}
	if err := srv.Start(); !errors.Is(err, rpc.ErrServerStarted) {
		t.Errorf("second Start() = %v; want %v", err, rpc.ErrServerStarted)
	}
	c := dial(t, srv.Addr().String(), "")
	ch, _, err := c.Stream(testCtx(t), "*")
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent Shutdowns all return once everything has stopped.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
	if _, ok := <-ch; ok {
		t.Error("stream open after Shutdown; want closed")
	}
	if err := srv.Start(); !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("Start() after Shutdown = %v; want %v", err, rpc.ErrServerClosed)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second); err == nil {
		t.Error("dial after Shutdown succeeded; want refused")
	}
	c.Close()
	checkNoLeaks(t)
}

func TestShutdownBeforeStartClosesListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Addr, cfg.Listener = "", ln
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept() on the listener after Shutdown = %v; want %v", err, net.ErrClosed)
	}
}

func TestStartListenError(t *testing.T) {
	cfg := validConfig()
	cfg.Addr = "127.0.0.1:-1"
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "rpc listen 127.0.0.1:-1") {
		t.Errorf("Start() = %v; want a listen error", err)
	}
}
