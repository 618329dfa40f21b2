package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip/vivaldi"
	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/memberlist"
)

// Errors returned by Node methods.
var (
	ErrNotStarted       = errors.New("node not started")
	ErrShutdown         = errors.New("node is shut down")
	ErrLeaving          = errors.New("leave already in progress")
	ErrLeft             = errors.New("node has left the cluster")
	ErrUnknownMember    = errors.New("no such member")
	ErrBroadcastTimeout = errors.New("timed out broadcasting")
)

// nodeState is the local node's lifecycle state.
type nodeState int32

const (
	stateNew nodeState = iota
	stateAlive
	stateLeaving
	stateLeft
	stateShutdown
)

// Node is one member of the cluster: memberlist plus Serf's membership
// semantics. Build it with New, start it with Start (or both with Create),
// and stop it with Shutdown. All methods are safe for concurrent use.
type Node struct {
	cfg    Config
	logger *slog.Logger

	clock      LamportClock // member intents
	eventClock LamportClock
	queryClock LamportClock

	mu    sync.Mutex // guards table and rng; never held while calling memberlist
	table *memberTable
	rng   *rand.Rand
	// numMembers mirrors len(table.members) for memberlist's queue callback,
	// which must not take mu.
	numMembers atomic.Int64

	metaMu sync.RWMutex
	tags   map[string]string
	meta   []byte
	// tagCache shares one decoded tag map among members with equal meta.
	tagCache tagCache

	intents *memberlist.TransmitLimitedQueue
	// userEvents queues user events for gossip, behind intents.
	userEvents *memberlist.TransmitLimitedQueue
	// evMu guards the user-event dedup buffer and evMin, the oldest event
	// time accepted (raised by a join without replay).
	evMu  sync.Mutex
	evBuf eventBuffer
	evMin LamportTime
	// gapFrom and gapTo bound the event times a later event showed
	// missing, until the repair loop has looked (see handleUserEvent).
	gapFrom, gapTo LamportTime
	// queries queues queries for gossip, behind intents and before events.
	queries *memberlist.TransmitLimitedQueue
	// qMu guards qSeen (the query dedup buffer) and asked (the queries
	// this node asked that are still open).
	qMu   sync.Mutex
	qSeen queryBuffer
	asked map[queryKey]*QueryResponse
	// changed wakes the repair loop after a membership change.
	changed chan struct{}
	// eventGap wakes it when a user event shows that earlier ones were
	// missed.
	eventGap chan struct{}
	// qMin refuses queries older than the snapshot's query clock.
	qMin LamportTime
	// resolving is set while a name-conflict resolution runs;
	// conflictLost once one decided this node must go.
	resolving, conflictLost atomic.Bool
	// evJoinIgnore is set during a Join without replay: the push/pull
	// exchanges it makes then raise evMin to the peer's event clock.
	evJoinIgnore atomic.Bool
	// mlist is set once Start has created memberlist; delegates may run
	// before that, so it is read through an atomic pointer.
	mlist atomic.Pointer[memberlist.Memberlist]
	// snap records membership and clocks for a restart (nil without a
	// snapshot path); restored is what it held at start.
	snap     *snapshotter
	restored SnapshotState
	// coords is the Vivaldi client (nil when coordinates are disabled); it
	// also keeps the members' last coordinates.
	coords *vivaldi.Client
	// keyring holds the encryption keys, nil without encryption; memberlist
	// shares it, and it locks itself.
	keyring *memberlist.Keyring
	out     *eventQueue
	stats   counters

	stateMu  sync.Mutex
	state    nodeState
	stop     chan struct{}
	wg       sync.WaitGroup
	joinMu   sync.Mutex
	stopOnce sync.Once

	loopMu  sync.Mutex // guards stopped against wg.Add racing Shutdown
	stopped bool
}

// New validates cfg and builds a node without touching the network.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid gossip config: %w", err)
	}
	meta, err := EncodeTags(cfg.Tags, cfg.Protocol)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = discardLogger()
	}
	n := &Node{
		cfg:      cfg,
		logger:   logger.With("node", cfg.NodeName),
		table:    newMemberTable(cfg.NodeName, cfg.FlapTimeout),
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		tags:     maps.Clone(cfg.Tags),
		meta:     meta,
		out:      newEventQueue(cfg.Events, cfg.EventBufferSize),
		stop:     make(chan struct{}),
		changed:  make(chan struct{}, 1),
		eventGap: make(chan struct{}, 1),
	}
	numNodes := func() int { return int(n.numMembers.Load()) }
	n.intents = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: cfg.Timing.RetransmitMult}
	n.userEvents = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: cfg.Timing.RetransmitMult}
	n.queries = &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: cfg.Timing.RetransmitMult}
	n.asked = map[queryKey]*QueryResponse{}
	if n.keyring, err = newKeyring(cfg.Keys); err != nil {
		return nil, err
	}
	if !cfg.DisableCoordinates {
		n.coords = vivaldi.NewClient(vivaldi.DefaultConfig())
	}
	if err := n.restoreSnapshot(); err != nil {
		return nil, err
	}
	return n, nil
}

// Create builds and starts a node.
func Create(cfg Config) (*Node, error) {
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		return nil, err
	}
	return n, nil
}

// Start opens the transport, starts memberlist and the background loops.
// The node is then a cluster of one until Join.
func (n *Node) Start() error {
	n.stateMu.Lock()
	defer n.stateMu.Unlock()
	if n.state != stateNew {
		return fmt.Errorf("start %s: already started", n.cfg.NodeName)
	}
	n.clock.Increment()
	n.eventClock.Increment()
	n.queryClock.Increment()

	mc := n.cfg.memberlistConfig(n.logger)
	mc.Keyring = n.keyring
	mc.Delegate = &messageDelegate{n: n}
	mc.Events = &membershipDelegate{n: n}
	mc.Conflict = &conflictDelegate{n: n}
	if n.coords != nil {
		mc.Ping = &pingDelegate{n: n}
	}
	if err := n.openTransport(mc); err != nil {
		return fmt.Errorf("start memberlist on %s:%d: %w", n.cfg.BindAddr, n.cfg.BindPort, err)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return fmt.Errorf("start memberlist on %s:%d: %w", n.cfg.BindAddr, n.cfg.BindPort, err)
	}
	n.mlist.Store(ml)
	n.state = stateAlive
	n.goLoop(func() { n.out.run(n.stop) })
	n.goLoop(n.reapLoop)
	n.goLoop(n.reconnectLoop)
	n.goLoop(n.queueCheckLoop)
	n.goLoop(n.repairLoop)
	if n.snap != nil {
		n.goLoop(n.snapshotLoop)
		n.goLoop(n.rejoinFromSnapshot)
	}
	return nil
}

// goLoop runs f in a goroutine that Shutdown waits for; after Shutdown it
// does nothing.
func (n *Node) goLoop(f func()) {
	n.loopMu.Lock()
	defer n.loopMu.Unlock()
	if n.stopped {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

func (n *Node) getState() nodeState {
	n.stateMu.Lock()
	defer n.stateMu.Unlock()
	return n.state
}

// locked runs f on the member table under the lock, then emits the events f
// returned, in order.
func (n *Node) locked(f func(t *memberTable) []events.MemberEvent) {
	n.mu.Lock()
	flaps := n.table.flaps
	evs := f(n.table)
	if len(evs) > 0 {
		n.noteChange()
	}
	if d := n.table.flaps - flaps; d > 0 {
		metrics.IncrCounter([]string{"serf", "member", "flap"}, float32(d))
	}
	n.numMembers.Store(int64(len(n.table.members)))
	n.snapshotMembers(evs)
	for _, e := range evs {
		if name, ok := memberMetric[e.Type]; ok {
			metrics.IncrCounter([]string{"serf", "member", name}, float32(len(e.Members)))
		}
		if e.Type == events.MemberReap {
			for _, m := range e.Members {
				n.forgetCoordinate(m.Name)
			}
		}
	}
	for _, e := range evs {
		n.logger.Info("member event", "event", e.Type.String(), "member", e.Members[0].Name, "addr", e.Members[0].Addr.String())
		n.out.push(e)
	}
	n.mu.Unlock()
}

// memberMetric names the counter of each member event (Serf's names).
var memberMetric = map[events.Type]string{
	events.MemberJoin: "join", events.MemberLeave: "left", events.MemberFailed: "failed",
	events.MemberUpdate: "update", events.MemberReap: "reap",
}

// queueIntent queues an intent we originate for gossip and also sends it
// straight to a few random alive peers: with few members, memberlist's few
// retransmissions may otherwise all go to dead nodes.
func (n *Node) queueIntent(t messageType, node string, msg any, notify chan<- struct{}) error {
	raw, err := encodeMessage(t, msg)
	if err != nil {
		return err
	}
	n.intents.QueueBroadcast(newBroadcast(raw, intentName(node), notify))
	n.sendDirect(raw, directFanout)
	return nil
}

// directFanout is how many random alive peers get an intent we originate
// directly, besides gossip.
const directFanout = 3

// sendDirect sends msg as a best-effort packet to up to k random alive peers.
func (n *Node) sendDirect(msg []byte, k int) {
	ml := n.mlist.Load()
	if ml == nil {
		return
	}
	n.mu.Lock()
	peers := n.table.randomAlivePeers(n.rng, k)
	n.mu.Unlock()
	to := make([]memberlist.Address, len(peers))
	for i, p := range peers {
		to[i] = memberAddress(p)
	}
	n.sendPackets(ml, to, msg)
}

// handleJoinIntent applies a join intent; true means rebroadcast it.
func (n *Node) handleJoinIntent(msg joinMessage) (rebroadcast bool) {
	n.clock.Witness(msg.LTime)
	n.locked(func(t *memberTable) []events.MemberEvent {
		rebroadcast = t.joinIntent(msg, n.cfg.Now())
		return nil
	})
	return rebroadcast
}

// mergeJoinIntents applies the join intents of a push/pull (every member
// of the peer's but those in skip) as handleJoinIntent would one by one,
// under one lock: a push/pull carries the whole membership. They are not
// rebroadcast.
func (n *Node) mergeJoinIntents(ltimes map[string]LamportTime, skip map[string]bool) {
	var latest LamportTime
	for _, lt := range ltimes {
		latest = max(latest, lt)
	}
	n.clock.Witness(latest)
	now := n.cfg.Now()
	n.locked(func(t *memberTable) []events.MemberEvent {
		for name, lt := range ltimes {
			if !skip[name] {
				t.joinIntent(joinMessage{LTime: lt, Node: name}, now)
			}
		}
		return nil
	})
}

// handleLeaveIntent applies a leave intent; true means rebroadcast it.
func (n *Node) handleLeaveIntent(msg leaveMessage) bool {
	n.clock.Witness(msg.LTime)
	selfAlive := n.getState() == stateAlive
	var out leaveOutcome
	n.locked(func(t *memberTable) []events.MemberEvent {
		out = t.leaveIntent(msg, selfAlive, n.cfg.Now())
		return out.events
	})
	if out.refute {
		n.logger.Debug("refuting a leave intent about ourselves", "ltime", msg.LTime)
		n.broadcastJoin()
	}
	if out.pruneLater {
		n.goLoop(func() { n.pruneAfter(msg.Node, n.cfg.BroadcastTimeout+n.cfg.LeavePropagateDelay) })
	}
	return out.rebroadcast
}

// SetTags replaces this node's tags and spreads them; every member emits a
// member-update. Tags over MaxTagsSize encoded are refused.
func (n *Node) SetTags(tags map[string]string) error {
	meta, err := EncodeTags(tags, n.cfg.Protocol)
	if err != nil {
		return fmt.Errorf("set tags: %w", err)
	}
	if st := n.getState(); st != stateAlive {
		return fmt.Errorf("set tags: %w", stateErr(st))
	}
	n.metaMu.Lock()
	n.tags, n.meta = maps.Clone(tags), meta
	n.metaMu.Unlock()
	if err := n.mlist.Load().UpdateNode(n.cfg.BroadcastTimeout); err != nil {
		return fmt.Errorf("set tags: %w", err)
	}
	return nil
}

// Tags returns a copy of this node's current tags.
func (n *Node) Tags() map[string]string {
	n.metaMu.RLock()
	defer n.metaMu.RUnlock()
	return maps.Clone(n.tags)
}

// Members returns every known member (alive, leaving, left and failed,
// until reaped), sorted by name.
func (n *Node) Members() []events.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.table.snapshot()
}

// LocalMember returns this node's own member record.
func (n *Node) LocalMember() events.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ms, ok := n.table.members[n.cfg.NodeName]; ok {
		return ms.member.Clone()
	}
	return events.Member{Name: n.cfg.NodeName, Tags: n.Tags()}
}

// Done is closed once the node has shut down, whoever shut it down.
func (n *Node) Done() <-chan struct{} { return n.stop }

// ConflictLost reports whether the node shut itself down because the
// cluster knows another node under its name.
func (n *Node) ConflictLost() bool { return n.conflictLost.Load() }

// NumMembers returns how many members are known, in any state.
func (n *Node) NumMembers() int { return int(n.numMembers.Load()) }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Addr returns the address memberlist advertises ("ip:port").
func (n *Node) Addr() string {
	ml := n.mlist.Load()
	if ml == nil {
		return ""
	}
	ln := ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// Clocks returns the member, event and query Lamport times.
func (n *Node) Clocks() (member, event, query LamportTime) {
	return n.clock.Time(), n.eventClock.Time(), n.queryClock.Time()
}

// Shutdown stops the node without leaving (peers will see it fail unless
// Leave was called first). It is idempotent and returns once every
// goroutine the node started has exited.
func (n *Node) Shutdown() error {
	var err error
	n.stopOnce.Do(func() {
		n.stateMu.Lock()
		ml := n.mlist.Load()
		if n.state != stateLeft && n.state != stateNew {
			n.logger.Warn("shutting down without a leave")
		}
		n.state = stateShutdown
		n.stateMu.Unlock()
		if ml != nil {
			if e := ml.Shutdown(); e != nil {
				err = fmt.Errorf("shutdown memberlist: %w", e)
			}
		}
		n.loopMu.Lock()
		n.stopped = true
		n.loopMu.Unlock()
		close(n.stop)
		n.wg.Wait()
		if n.snap != nil {
			if e := n.snap.close(); e != nil && err == nil {
				err = fmt.Errorf("close snapshot: %w", e)
			}
		}
	})
	return err
}

func stateErr(st nodeState) error {
	switch st {
	case stateNew:
		return ErrNotStarted
	case stateLeaving:
		return ErrLeaving
	case stateLeft:
		return ErrLeft
	default:
		return ErrShutdown
	}
}
