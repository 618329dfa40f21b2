package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrServerClosed is returned by Start after Shutdown.
	ErrServerClosed = errors.New("rpc server closed")
	// ErrServerStarted is returned by a second Start.
	ErrServerStarted = errors.New("rpc server already started")
)

// Server serves Serf's IPC protocol to CLI and library clients. Create it
// with NewServer, run it with Start, stop it with Shutdown.
type Server struct {
	cfg    ServerConfig
	logger *slog.Logger

	// ctx is the context of every call into the agent; Shutdown cancels it
	// so that a long join does not hold Shutdown up.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ln      net.Listener // nil until Start
	started bool
	closed  bool
	conns   map[*conn]struct{}

	// wg counts every goroutine the server starts: the accept loop and,
	// per connection, its reader, writer and stream pumps.
	wg           sync.WaitGroup
	shutdownOnce sync.Once

	exitOnce sync.Once
	exitCh   chan struct{}

	dropped atomic.Uint64
}

// ServerStats are the server's own counters.
type ServerStats struct {
	// Conns is the number of open client connections.
	Conns int
	// RecordsDropped counts stream and monitor records dropped because a
	// client's queue was full, since the server was created.
	RecordsDropped uint64
}

// NewServer validates cfg and returns a server that is not yet listening.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new rpc server: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:    cfg,
		logger: logger.With("component", "rpc"),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
		exitCh: make(chan struct{}),
	}, nil
}

// Start listens (on cfg.Addr unless cfg.Listener was given) and starts
// accepting clients in the background. It returns ErrServerStarted if
// called twice and ErrServerClosed after Shutdown.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrServerClosed
	case s.started:
		return ErrServerStarted
	}
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = Listen(s.cfg.Addr, s.cfg.TLS); err != nil {
			return err
		}
	}
	s.ln, s.started = ln, true
	s.logger.Info("rpc server listening", "addr", ln.Addr().String())
	s.wg.Go(s.acceptLoop)
	return nil
}

// Addr returns the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ExitRequested returns a channel that is closed once a client's leave
// command has been answered and that client has hung up (or
// ServerConfig.LeaveGrace has passed, or the connection failed): the
// daemon should then shut down, this server included. As with Serf, this
// happens whether or not the leave itself succeeded; the client has been
// told the outcome.
func (s *Server) ExitRequested() <-chan struct{} { return s.exitCh }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return ServerStats{Conns: n, RecordsDropped: s.dropped.Load()}
}

// Shutdown stops listening, cancels calls into the agent in progress,
// closes every client connection and returns once every goroutine of the
// server has exited. It is idempotent and safe to call concurrently, also
// before Start (it then closes cfg.Listener, if any).
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ln := s.ln
		if ln == nil {
			ln = s.cfg.Listener
		}
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		s.cancel()
		if ln != nil {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.logger.Warn("rpc listener close", "err", err)
			}
		}
		for _, c := range conns {
			c.close()
		}
	})
	s.wg.Wait()
}

// acceptLoop accepts clients until the listener is closed.
func (s *Server) acceptLoop() {
	backoff := time.Duration(0)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http
			// does, rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Error("rpc accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		s.addConn(nc)
	}
}

// addConn registers and starts a connection, or closes it if the server
// is shutting down.
func (s *Server) addConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	c.log.Debug("rpc client connected")
	s.wg.Go(c.readLoop)
	s.wg.Go(c.writeLoop)
}

// removeConn forgets a connection that has ended.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// requestExit closes the ExitRequested channel.
func (s *Server) requestExit() {
	s.exitOnce.Do(func() { close(s.exitCh) })
}
