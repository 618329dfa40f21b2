package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/handlers"
	"github.com/agentd/agent/internal/atomicfile"
	"github.com/agentd/agent/rpc"
)

// Version is the agent's version, reported by `agent version` and stats.
const Version = "0.1.0"

// How long bursts of events are merged before handlers and streams see
// them. Serf's agent waits for 1 s of quiet, up to 3 s; we deliver a
// burst 200 ms (member changes) or 100 ms (user events flagged coalesce)
// after its last event, and never more than 1 s after its first.
var (
	DefaultMemberCoalesce = events.CoalesceConfig{Quiet: 200 * time.Millisecond, MaxDelay: time.Second}
	DefaultUserCoalesce   = events.CoalesceConfig{Quiet: 100 * time.Millisecond, MaxDelay: time.Second}
)

// Agent is a running daemon's core: the gossip node plus event fan-out.
// It implements what the RPC server needs (members, join, leave, tags,
// stats, event subscriptions).
type Agent struct {
	cfg    Config
	logger *slog.Logger
	node   *gossip.Node
	events chan events.Event
	// runner runs the event handlers; every event goes to it before the
	// RPC streams, and it never blocks.
	runner *handlers.Runner

	subMu sync.Mutex
	subs  map[*eventSub]struct{}

	tagsMu sync.Mutex // serializes UpdateTags and the tags file

	stop   chan struct{}
	ctx    context.Context // ends at Shutdown, for the background joins
	cancel context.CancelFunc
	failed chan error
	// metricsAddr is where Prometheus metrics are served ("" for none).
	metricsAddr atomic.Value
	// rpcStats reads the RPC server's figures, for the gauges.
	rpcStats atomic.Pointer[func() rpc.ServerStats]
	wg       sync.WaitGroup
	stopOnce sync.Once
}

type eventSub struct {
	ch   chan events.Event
	done chan struct{}
}

// New builds the agent and its gossip node without touching the network.
// tune, if not nil, adjusts the gossip configuration (tests use it for an
// in-memory transport or quick timings).
func New(cfg Config, logger *slog.Logger, tune func(*gossip.Config)) (*Agent, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg:    cfg,
		logger: logger,
		events: make(chan events.Event, 256),
		subs:   map[*eventSub]struct{}{},
		stop:   make(chan struct{}),
		failed: make(chan error, 1),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if cfg.MemberCoalesce.Validate() != nil {
		cfg.MemberCoalesce = DefaultMemberCoalesce
	}
	if cfg.UserCoalesce.Validate() != nil {
		cfg.UserCoalesce = DefaultUserCoalesce
	}
	a.cfg = cfg
	gc := gossip.DefaultConfig()
	gc.NodeName = cfg.NodeName
	gc.BindAddr, gc.BindPort = cfg.BindAddr, cfg.BindPort
	gc.AdvertiseAddr, gc.AdvertisePort = cfg.AdvertiseAddr, cfg.AdvertisePort
	gc.Tags = maps.Clone(cfg.Tags)
	gc.Protocol = cfg.Protocol
	gc.Compression = cfg.Compression
	gc.ValidateNodeNames = cfg.ValidateNodeNames
	gc.DisableCoordinates = cfg.DisableCoordinates
	gc.Label = cfg.ClusterLabel
	keys, err := gossipKeys(cfg, logger)
	if err != nil {
		return nil, err
	}
	gc.Keys, gc.KeyringFile = keys, cfg.KeyringFile
	gc.SnapshotPath, gc.RejoinAfterLeave = cfg.SnapshotPath, cfg.RejoinAfterLeave
	gc.EncryptVerifyIncoming, gc.EncryptVerifyOutgoing = cfg.EncryptVerifyIncoming, cfg.EncryptVerifyOutgoing
	if err := gc.SetProfile(cfg.Profile); err != nil {
		return nil, err
	}
	gc.BroadcastTimeout = cfg.BroadcastTimeout
	if cfg.UserEventSizeLimit > 0 {
		gc.UserEventSizeLimit = cfg.UserEventSizeLimit
	}
	if cfg.QuerySizeLimit > 0 {
		gc.QuerySizeLimit = cfg.QuerySizeLimit
	}
	if cfg.QueryResponseSizeLimit > 0 {
		gc.QueryResponseSizeLimit = cfg.QueryResponseSizeLimit
	}
	if cfg.ReconnectInterval > 0 {
		gc.ReconnectInterval = cfg.ReconnectInterval
	}
	if cfg.ReconnectTimeout > 0 {
		gc.ReconnectTimeout = cfg.ReconnectTimeout
	}
	if cfg.TombstoneTimeout > 0 {
		gc.TombstoneTimeout = cfg.TombstoneTimeout
	}
	gc.Events = a.events
	gc.Logger = logger.With("component", "gossip")
	if tune != nil {
		tune(&gc)
	}
	if gc.Transport == nil && gc.AdvertiseAddr == "" && (gc.BindAddr == "0.0.0.0" || gc.BindAddr == "::") {
		addrs, err := machineAddrs()
		if err != nil {
			return nil, err
		}
		chosen, public, err := chooseAdvertise(gc.BindAddr, addrs)
		if err != nil {
			return nil, err
		}
		gc.AdvertiseAddr = chosen.ip.String()
		if public {
			logger.Warn("advertising an address that is not private; set advertise to choose another", "addr", gc.AdvertiseAddr, "interface", chosen.iface)
		} else {
			logger.Info("advertising", "addr", gc.AdvertiseAddr, "interface", chosen.iface)
		}
	}
	node, err := gossip.New(gc)
	if err != nil {
		return nil, err
	}
	a.node = node
	a.runner = handlers.NewRunner(handlers.Config{
		Handlers: cfg.Handlers,
		Timeout:  cfg.HandlerTimeout,
		Self:     node.LocalMember,
		Logger:   logger.With("component", "handlers"),
	})
	return a, nil
}

// Start starts gossip and the event fan-out. The node is a cluster of one
// until JoinAtStart or Join.
func (a *Agent) Start(ctx context.Context) error {
	if err := a.node.Start(); err != nil {
		return err
	}
	// Bursts are merged before handlers and streams see them, as Serf's
	// agent does, but with shorter windows: a member change or a
	// coalescable user event is delivered within MemberCoalesce.Quiet or
	// UserCoalesce.Quiet of the last one of its burst.
	cctx, cancel := context.WithCancel(context.Background())
	members, users := make(chan events.Event, 256), make(chan events.Event, 256)
	a.wg.Go(func() {
		<-a.stop
		cancel()
	})
	a.wg.Go(func() {
		if err := events.Coalesce(cctx, a.cfg.MemberCoalesce, a.events, members); err != nil {
			a.logger.Warn("member event coalescing", "err", err)
		}
	})
	a.wg.Go(func() {
		if err := events.CoalesceUserEvents(cctx, a.cfg.UserCoalesce, members, users); err != nil {
			a.logger.Warn("user event coalescing", "err", err)
		}
	})
	a.wg.Go(func() { a.fanOut(users) })
	a.logger.Info("agent started", "node", a.cfg.NodeName, "gossip", a.node.Addr())
	return nil
}

// JoinAtStart joins the start_join addresses, if any. It fails only when
// every address fails; the error names each one.
func (a *Agent) JoinAtStart(ctx context.Context) error {
	if len(a.cfg.StartJoin) == 0 {
		return nil
	}
	n, err := a.node.Join(ctx, a.cfg.StartJoin, a.cfg.ReplayOnJoin)
	if n == 0 {
		return fmt.Errorf("join at start: no address reachable: %w", err)
	}
	if err != nil {
		a.logger.Warn("join at start: some addresses failed", "joined", n, "err", err)
	}
	return nil
}

// fanOut hands every gossip event to every subscriber, in order.
func (a *Agent) fanOut(in <-chan events.Event) {
	for {
		select {
		case e := <-in:
			a.runner.Handle(e)
			a.subMu.Lock()
			subs := make([]*eventSub, 0, len(a.subs))
			for s := range a.subs {
				subs = append(subs, s)
			}
			a.subMu.Unlock()
			for _, s := range subs {
				select {
				case s.ch <- e:
				case <-s.done:
				case <-a.stop:
					return
				}
			}
		case <-a.stop:
			return
		}
	}
}

// Subscribe delivers every event from now on until cancel is called.
func (a *Agent) Subscribe() (<-chan events.Event, func()) {
	s := &eventSub{ch: make(chan events.Event, 64), done: make(chan struct{})}
	a.subMu.Lock()
	a.subs[s] = struct{}{}
	a.subMu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			a.subMu.Lock()
			delete(a.subs, s)
			a.subMu.Unlock()
			close(s.done)
		})
	}
}

// Node returns the gossip node.
func (a *Agent) Node() *gossip.Node { return a.node }

// Members returns every known member.
func (a *Agent) Members() []events.Member { return a.node.Members() }

// Join joins the cluster through the given addresses.
func (a *Agent) Join(ctx context.Context, addrs []string, replay bool) (int, error) {
	return a.node.Join(ctx, addrs, replay)
}

// ForceLeave moves a failed member to left (or erases it with prune).
func (a *Agent) ForceLeave(ctx context.Context, node string, prune bool) error {
	return a.node.ForceLeave(ctx, node, prune)
}

// SetHandlers replaces the event handlers (on a reload); an unchanged
// handler keeps its queue.
func (a *Agent) SetHandlers(specs []handlers.Spec) { a.runner.SetHandlers(specs) }

// UserEvent fires a user event to every member.
func (a *Agent) UserEvent(name string, payload []byte, coalesce bool) error {
	return a.node.UserEvent(name, payload, coalesce)
}

// Coordinate returns a member's network coordinate (rpc.Cluster).
func (a *Agent) Coordinate(node string) (rpc.Coordinate, bool) {
	c, ok := a.node.CachedCoordinate(node)
	if !ok {
		return rpc.Coordinate{}, false
	}
	return rpc.Coordinate{Vec: c.Vec, Error: c.Error, Adjustment: c.Adjustment, Height: c.Height}, true
}

// ModifyKeys runs a keyring operation on every member (rpc.Cluster).
func (a *Agent) ModifyKeys(ctx context.Context, op, key string) (rpc.KeyResult, error) {
	resp, err := a.node.ModifyKeys(ctx, gossip.KeyOp(op), key)
	if resp == nil {
		return rpc.KeyResult{}, err
	}
	return rpc.KeyResult{Messages: resp.Messages, Keys: resp.Keys, NumNodes: resp.NumNodes, NumErr: resp.NumErr, NumResp: resp.NumResp}, err
}

// Query asks the cluster and forwards the acks and responses to the
// returned channel until the query ends (or the agent stops).
func (a *Agent) Query(name string, payload []byte, p rpc.QueryParams) (<-chan rpc.QueryAnswer, func(), error) {
	r, err := a.node.Query(name, payload, gossip.QueryParams{
		FilterNodes: p.FilterNodes, FilterTags: p.FilterTags, RequestAck: p.RequestAck,
		RelayFactor: p.RelayFactor, Timeout: p.Timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	out := make(chan rpc.QueryAnswer, 64)
	quit := make(chan struct{})
	var once sync.Once
	cancel := func() {
		once.Do(func() { close(quit) })
		r.Close()
	}
	a.wg.Go(func() {
		defer close(out)
		acks, resps := r.Acks(), r.Responses()
		for acks != nil || resps != nil {
			var ans rpc.QueryAnswer
			select {
			case from, ok := <-acks:
				if !ok {
					acks = nil
					continue
				}
				ans = rpc.QueryAnswer{Ack: true, From: from}
			case nr, ok := <-resps:
				if !ok {
					resps = nil
					continue
				}
				ans = rpc.QueryAnswer{From: nr.From, Payload: nr.Payload}
			case <-a.stop:
				r.Close()
				return
			}
			select {
			case out <- ans:
			case <-quit: // the client is gone
				return
			case <-a.stop:
				r.Close()
				return
			}
		}
	})
	return out, cancel, nil
}

// Leave leaves the cluster gracefully; the agent must still be shut down.
func (a *Agent) Leave(ctx context.Context) error { return a.node.Leave(ctx) }

// UpdateTags applies removals then additions to the local tags as one
// change, spreads them, and saves them to the tags file if one is set.
func (a *Agent) UpdateTags(ctx context.Context, set map[string]string, remove []string) error {
	a.tagsMu.Lock()
	defer a.tagsMu.Unlock()
	tags := a.node.Tags()
	for _, k := range remove {
		delete(tags, k)
	}
	maps.Copy(tags, set)
	if err := a.node.SetTags(tags); err != nil {
		return err
	}
	if a.cfg.TagsFile != "" {
		if err := writeJSONFile(a.cfg.TagsFile, tags); err != nil {
			return fmt.Errorf("save tags to %s: %w", a.cfg.TagsFile, err)
		}
	}
	return nil
}

// writeJSONFile replaces path atomically with v as JSON.
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// Stats returns Serf's stats sections: agent, runtime, serf, tags.
func (a *Agent) Stats() map[string]map[string]string {
	s := a.node.Stats()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := strconv.Itoa
	return map[string]map[string]string{
		"agent": {"name": a.cfg.NodeName, "version": Version, "snapshot_path": a.cfg.SnapshotPath, "metrics_endpoint": a.metricsURL()},
		"runtime": {
			"os": runtime.GOOS, "arch": runtime.GOARCH, "version": runtime.Version(),
			"max_procs": i(runtime.GOMAXPROCS(0)), "goroutines": i(runtime.NumGoroutine()), "cpu_count": i(runtime.NumCPU()),
		},
		"serf": {
			"members":          i(a.node.NumMembers()),
			"failed":           i(s.Members[events.StatusFailed]),
			"left":             i(s.Members[events.StatusLeft]),
			"health_score":     i(s.HealthScore),
			"member_time":      u(uint64(s.MemberTime)),
			"event_time":       u(uint64(s.EventTime)),
			"query_time":       u(uint64(s.QueryTime)),
			"intent_queue":     i(s.IntentQueue),
			"event_queue":      i(s.UserEventQueue),
			"query_queue":      i(s.QueryQueue),
			"encrypted":        strconv.FormatBool(a.node.EncryptionEnabled()),
			"messages_dropped": u(s.MessagesDropped),
			"events_dropped":   u(s.EventsDropped),
			"repair_pushpulls": u(s.RepairPushPulls),
			"event_gaps":       u(s.EventGaps),
			"query_resends":    u(s.QueryResends),
		},
		"tags":           a.node.Tags(),
		"handlers":       handlerStats(a.runner.Stats()),
		"event_handlers": a.eventHandlers(),
	}
}

// SetMetricsAddr records where the metrics endpoint listens, for info.
func (a *Agent) SetMetricsAddr(addr string) { a.metricsAddr.Store(addr) }

func (a *Agent) metricsURL() string {
	if s, _ := a.metricsAddr.Load().(string); s != "" {
		return "http://" + s + "/metrics"
	}
	return ""
}

// eventHandlers is Serf's event_handlers section: each handler's spec,
// and the command it runs.
func (a *Agent) eventHandlers() map[string]string {
	out := map[string]string{}
	for _, s := range a.runner.Handlers() {
		out[s.String()] = s.Command
	}
	return out
}

func handlerStats(s handlers.Stats) map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return map[string]string{
		"handlers": strconv.Itoa(s.Handlers), "runs": u(s.Runs), "failures": u(s.Failures),
		"timeouts": u(s.Timeouts), "dropped": u(s.Dropped),
	}
}

// Shutdown stops gossip and the fan-out; it is idempotent.
func (a *Agent) Shutdown() error {
	var err error
	a.stopOnce.Do(func() {
		a.cancel()
		err = a.node.Shutdown()
		close(a.stop)
		a.wg.Wait()
		a.runner.Close()
	})
	return err
}
