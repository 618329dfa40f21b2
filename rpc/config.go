package rpc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// ErrInvalidConfig is wrapped by every error ServerConfig.Validate returns.
var ErrInvalidConfig = errors.New("invalid rpc server config")

// ServerConfig configures a [Server]. Start from [DefaultServerConfig].
type ServerConfig struct {
	// Addr is the TCP address to listen on ("127.0.0.1:7373"), or
	// UnixPrefix and a socket path (see Listen). Used only when Listener
	// is nil.
	Addr string
	// TLS, if set, makes TCP clients speak TLS (with Addr only).
	TLS *tls.Config
	// Listener, if set, is used instead of listening on Addr. The server
	// owns it: Shutdown closes it.
	Listener net.Listener
	// AuthKey, if not empty, must be presented with the auth command
	// before any other command but the handshake.
	AuthKey string

	// Cluster, Local, Events and Logs are the agent, as the server sees it.
	// All four are required.
	Cluster Cluster
	Local   LocalAgent
	Events  EventSource
	Logs    LogSource

	// OnCommand, if set, is called with the name of every command a
	// client sends (the agent counts them in its metrics).
	OnCommand func(name string)

	// Logger receives the server's own logs. Nil discards them.
	Logger *slog.Logger

	// QueueSize is the number of stream and monitor records a connection
	// may have waiting for its socket; past it, records are dropped and
	// counted. Keep it at least the LogSource's number of recent lines, so
	// that a monitor's replay fits. Must be > 0.
	QueueSize int
	// WriteTimeout is how long, as a duration, one socket write (a
	// response or a record, flushed) may take before the server gives up
	// on the client and closes its connection. Must be > 0.
	WriteTimeout time.Duration
	// LeaveGrace is how long, as a duration, the server waits after
	// answering a leave for that client to hang up before it closes
	// ExitRequested. Serf's client may report a successful leave as
	// "client closed" if the connection ends right after the answer; the
	// serf CLI hangs up at once, so the wait is normally short. Zero
	// requests the exit as soon as the answer is flushed. Must be >= 0.
	LeaveGrace time.Duration
}

// DefaultServerConfig returns the defaults: queue 512 records per
// connection (Serf's stream buffer), write timeout 10s (Serf's client
// timeout), leave grace 1s. Addr, the agent interfaces and Logger are left
// for the caller.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		QueueSize:    512,
		WriteTimeout: 10 * time.Second,
		LeaveGrace:   time.Second,
	}
}

// Validate reports every problem with c, each wrapping ErrInvalidConfig, or
// nil if c is usable.
func (c ServerConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Listener == nil && c.Addr == "" {
		bad("one of Addr and Listener is required")
	}
	if c.Cluster == nil {
		bad("Cluster is required")
	}
	if c.Local == nil {
		bad("Local is required")
	}
	if c.Events == nil {
		bad("Events is required")
	}
	if c.Logs == nil {
		bad("Logs is required")
	}
	if c.QueueSize <= 0 {
		bad("queue size must be > 0, got %d", c.QueueSize)
	}
	if c.WriteTimeout <= 0 {
		bad("write timeout must be > 0, got %v", c.WriteTimeout)
	}
	if c.LeaveGrace < 0 {
		bad("leave grace must be >= 0, got %v", c.LeaveGrace)
	}
	return errors.Join(errs...)
}
