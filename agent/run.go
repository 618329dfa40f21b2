package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agentd/agent/rpc"
	metrics "github.com/armon/go-metrics"
)

// RunOptions are the inputs of `agent run`.
type RunOptions struct {
	// ConfigPaths are the --config-file and --config-dir values, in order;
	// each is a file or a directory of *.json files.
	ConfigPaths []string
	// Flags is the layer built from the flags that were set; it wins over
	// the files.
	Flags *FileConfig
	// Stderr receives the logs.
	Stderr io.Writer
	// Ready, if set, is called once the agent serves RPC, with the RPC and
	// gossip addresses.
	Ready func(rpcAddr, gossipAddr string)
}

// LoadConfig merges the config paths and the flag layer and resolves them.
func LoadConfig(paths []string, flags *FileConfig) (Config, error) {
	merged := &FileConfig{}
	for _, p := range paths {
		fc, err := LoadConfigPath(p)
		if err != nil {
			return Config{}, err
		}
		merged.Merge(fc)
	}
	merged.Merge(flags)
	return Resolve(merged)
}

// Run runs the daemon until a signal or an RPC leave ends it. SIGINT leaves
// gracefully (unless skip_leave_on_interrupt) and SIGTERM exits without
// leaving (unless leave_on_terminate); a second signal exits at once. SIGHUP
// reloads the config files: log level and tags. Run returns nil on a clean
// exit.
func Run(ctx context.Context, opts RunOptions) error {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	cfg, err := LoadConfig(opts.ConfigPaths, opts.Flags)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(SlogLevel(cfg.LogLevel))
	hub := NewLogHub()
	logger := NewLogger(opts.Stderr, level, cfg.LogJSON, hub)

	sinks, err := startMetrics(cfg, opts.Stderr, logger)
	if err != nil {
		return err
	}
	defer sinks.stop()
	a, err := New(cfg, logger, nil)
	if err != nil {
		return err
	}
	if sinks.addr != nil {
		a.SetMetricsAddr(sinks.addr.String())
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown()
		return err
	}
	sc := rpc.DefaultServerConfig()
	sc.Addr, sc.AuthKey = cfg.RPCAddr, cfg.RPCAuthKey
	if cfg.RPCTLSCertFile != "" {
		if sc.TLS, err = rpc.ServerTLS(cfg.RPCTLSCertFile, cfg.RPCTLSKeyFile, cfg.RPCTLSCAFile); err != nil {
			_ = a.Shutdown()
			return err
		}
	}
	sc.Cluster, sc.Local, sc.Events, sc.Logs = a, a, a, hub
	sc.Logger = logger
	sc.OnCommand = func(name string) {
		// Serf's counter, and ours by command.
		metrics.IncrCounter([]string{"agent", "ipc", "command"}, 1)
		metrics.IncrCounterWithLabels([]string{"agent", "rpc", "commands"}, 1, []metrics.Label{{Name: "command", Value: name}})
	}
	srv, err := rpc.NewServer(sc)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		_ = a.Shutdown()
		return fmt.Errorf("rpc on %s: %w", cfg.RPCAddr, err)
	}
	logger.Info("serving RPC", "addr", srv.Addr())
	rpcStats := srv.Stats
	a.rpcStats.Store(&rpcStats)
	// RPC serves before the start join, as Serf's agent does, so the agent
	// answers as soon as it runs.
	if err := a.JoinAtStart(ctx); err != nil {
		srv.Shutdown()
		_ = a.Shutdown()
		return err
	}
	a.startJoinLoops()
	a.goLoop(func() { a.gaugeLoop(time.Second) })
	if err := a.startDiscovery(); err != nil {
		srv.Shutdown()
		_ = a.Shutdown()
		return err
	}
	// Ready for systemd (Type=notify): RPC serves and the start join, if
	// any, has joined.
	if err := notifySystemd("READY=1"); err != nil {
		logger.Warn("could not tell the service manager the agent is ready", "err", err)
	}
	if opts.Ready != nil {
		rpcAddr := srv.Addr().String()
		if srv.Addr().Network() == "unix" {
			rpcAddr = rpc.UnixPrefix + rpcAddr
		}
		opts.Ready(rpcAddr, a.Node().Addr())
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	exitErr := waitForExit(ctx, a, srv, sigs, opts, &cfg, level, logger)
	_ = notifySystemd("STOPPING=1")
	srv.Shutdown()
	if err := a.Shutdown(); err != nil && exitErr == nil {
		exitErr = err
	}
	logger.Info("agent stopped")
	return exitErr
}

// waitForExit blocks until the agent should stop, leaving first when the
// signal and config say so.
func waitForExit(ctx context.Context, a *Agent, srv *rpc.Server, sigs <-chan os.Signal, opts RunOptions, cfg *Config, level *slog.LevelVar, logger *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-a.Failed():
			return err
		case <-srv.ExitRequested():
			logger.Info("leave requested over RPC; exiting")
			return nil
		case <-a.Node().Done():
			if a.Node().ConflictLost() {
				return fmt.Errorf("node name %q belongs to another node in the cluster; choose a unique name (--node)", cfg.NodeName)
			}
			return errors.New("gossip stopped")
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(a, opts, cfg, level, logger)
				continue
			}
			leave := (sig == os.Interrupt && !cfg.SkipLeaveOnInt) || (sig == syscall.SIGTERM && cfg.LeaveOnTerm)
			logger.Info("caught signal", "signal", sig.String(), "graceful_leave", leave)
			if !leave {
				return nil
			}
			return leaveUnlessInterrupted(ctx, a, sigs, logger)
		}
	}
}

// leaveUnlessInterrupted leaves gracefully; a second signal cuts it short.
func leaveUnlessInterrupted(ctx context.Context, a *Agent, sigs <-chan os.Signal, logger *slog.Logger) error {
	done := make(chan error, 1)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- a.Leave(lctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("graceful leave: %w", err)
			}
			logger.Info("graceful leave complete")
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			logger.Warn("second signal; exiting without finishing the leave", "signal", sig.String())
			cancel()
			return errors.New("leave interrupted by a second signal")
		}
	}
}

// reload re-reads the config files on SIGHUP and applies what can change
// while running: the log level and the tags. Errors keep the old config.
func reload(a *Agent, opts RunOptions, cfg *Config, level *slog.LevelVar, logger *slog.Logger) {
	next, err := LoadConfig(opts.ConfigPaths, opts.Flags)
	if err != nil {
		logger.Error("reload failed; keeping the running config", "err", err)
		return
	}
	level.Set(SlogLevel(next.LogLevel))
	if !maps.Equal(next.Tags, cfg.Tags) {
		var remove []string
		for k := range cfg.Tags {
			if _, ok := next.Tags[k]; !ok {
				remove = append(remove, k)
			}
		}
		if err := a.UpdateTags(context.Background(), next.Tags, remove); err != nil {
			logger.Error("reload: tags", "err", err)
			return
		}
	}
	a.SetHandlers(next.Handlers)
	cfg.LogLevel, cfg.Tags, cfg.EventHandlers, cfg.Handlers = next.LogLevel, next.Tags, next.EventHandlers, next.Handlers
	logger.Info("config reloaded", "log_level", next.LogLevel, "tags", len(next.Tags), "event_handlers", len(next.Handlers))
}
