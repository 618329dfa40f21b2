// Package rpctest provides fakes of the agent for tests of the RPC server
// and of RPC clients.
package rpctest

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
)

// Agent is an in-memory agent: it implements rpc.Cluster, rpc.LocalAgent,
// rpc.EventSource and rpc.LogSource, answers as its exported fields say
// and records the calls it gets. Set the fields before the agent serves,
// or later inside Update. Its methods are safe for concurrent use.
type Agent struct {
	// MembersList is what Members returns (see also SetMembers).
	MembersList []events.Member
	// JoinN and JoinErr are what Join returns.
	JoinN   int
	JoinErr error
	// JoinBlock, if set, makes Join wait until it is closed or the
	// call's context ends.
	JoinBlock chan struct{}
	// ForceLeaveErr is what ForceLeave returns.
	ForceLeaveErr error
	// UserEventErr is what UserEvent returns.
	UserEventErr error
	// QueryAnswers is what every query streams before it ends.
	QueryAnswers []rpc.QueryAnswer
	// QueryErr, if set, makes Query fail without recording the query.
	QueryErr error
	// Coords are what Coordinate returns, by node.
	Coords map[string]rpc.Coordinate
	// KeyResult and KeyErr are what ModifyKeys returns.
	KeyResult rpc.KeyResult
	KeyErr    error
	// LeaveErr is what Leave returns.
	LeaveErr error
	// LocalTags are the local node's tags, which UpdateTags changes.
	LocalTags map[string]string
	// TagsErr, if set, makes UpdateTags fail without changing the tags.
	TagsErr error
	// StatsMap is what Stats returns.
	StatsMap map[string]map[string]string

	mu          sync.Mutex // guards the fields above and below
	joinsBegun  int
	joins       []JoinCall
	forceLeaves []ForceLeaveCall
	userEvents  []events.UserEvent
	queries     []QueryCall
	keyOps      []KeyCall
	leaves      int
	eventSubs   map[*feed[events.Event]]struct{}
	logSubs     map[*feed[string]]slog.Level // feed -> its minimum level
	recentLogs  []logLine
}

// JoinCall is one call of Join.
type JoinCall struct {
	Addrs  []string
	Replay bool
}

// ForceLeaveCall is one call of ForceLeave.
type ForceLeaveCall struct {
	Node  string
	Prune bool
}

// KeyCall is one call of ModifyKeys.
type KeyCall struct {
	Op, Key string
}

// QueryCall is one call of Query that did not fail.
type QueryCall struct {
	Name    string
	Payload []byte
	Params  rpc.QueryParams
}

type logLine struct {
	level slog.Level
	text  string
}

// recentLogsKept is how many lines Log keeps for new monitors, as the
// daemon's log buffer does.
const recentLogsKept = 32

// Update runs fn with the agent locked, for changing its fields while it
// serves.
func (a *Agent) Update(fn func(*Agent)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a)
}

// Members returns a copy of MembersList.
func (a *Agent) Members() []events.Member {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]events.Member, len(a.MembersList))
	for i, m := range a.MembersList {
		out[i] = m.Clone()
	}
	return out
}

// SetMembers replaces MembersList.
func (a *Agent) SetMembers(ms ...events.Member) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.MembersList = ms
}

// Join records the call, once JoinBlock lets it through, and returns
// JoinN and JoinErr.
func (a *Agent) Join(ctx context.Context, addrs []string, replay bool) (int, error) {
	a.mu.Lock()
	block := a.JoinBlock
	a.joinsBegun++
	a.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.joins = append(a.joins, JoinCall{slices.Clone(addrs), replay})
	return a.JoinN, a.JoinErr
}

// JoinsBegun returns how many Join calls have started, blocked or not.
func (a *Agent) JoinsBegun() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.joinsBegun
}

// Joins returns the Join calls that got through, in order.
func (a *Agent) Joins() []JoinCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.joins)
}

// ForceLeave records the call and returns ForceLeaveErr.
func (a *Agent) ForceLeave(_ context.Context, node string, prune bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forceLeaves = append(a.forceLeaves, ForceLeaveCall{node, prune})
	return a.ForceLeaveErr
}

// ForceLeaves returns the ForceLeave calls, in order.
func (a *Agent) ForceLeaves() []ForceLeaveCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.forceLeaves)
}

// UserEvent records the event and returns UserEventErr.
func (a *Agent) UserEvent(name string, payload []byte, coalesce bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.userEvents = append(a.userEvents, events.UserEvent{Name: name, Payload: bytes.Clone(payload), Coalesce: coalesce})
	return a.UserEventErr
}

// UserEvents returns the UserEvent calls, in order.
func (a *Agent) UserEvents() []events.UserEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.userEvents)
}

// Query fails with QueryErr if set; otherwise it records the query and
// streams QueryAnswers, then ends.
func (a *Agent) Query(name string, payload []byte, p rpc.QueryParams) (<-chan rpc.QueryAnswer, func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.QueryErr != nil {
		return nil, nil, a.QueryErr
	}
	a.queries = append(a.queries, QueryCall{name, bytes.Clone(payload), p})
	ch := make(chan rpc.QueryAnswer, len(a.QueryAnswers))
	for _, ans := range a.QueryAnswers {
		ch <- ans
	}
	close(ch)
	return ch, func() {}, nil
}

// ModifyKeys records the call and returns KeyResult and KeyErr.
func (a *Agent) ModifyKeys(_ context.Context, op, key string) (rpc.KeyResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keyOps = append(a.keyOps, KeyCall{op, key})
	return a.KeyResult, a.KeyErr
}

// Coordinate returns Coords[node].
func (a *Agent) Coordinate(node string) (rpc.Coordinate, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.Coords[node]
	return c, ok
}

// KeyCalls returns the ModifyKeys calls, in order.
func (a *Agent) KeyCalls() []KeyCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.keyOps)
}

// Queries returns the queries that did not fail, in order.
func (a *Agent) Queries() []QueryCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.queries)
}

// Leave counts the call and returns LeaveErr.
func (a *Agent) Leave(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.leaves++
	return a.LeaveErr
}

// Leaves returns how many times Leave was called.
func (a *Agent) Leaves() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.leaves
}

// UpdateTags fails with TagsErr if set; otherwise it changes LocalTags.
func (a *Agent) UpdateTags(_ context.Context, set map[string]string, remove []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.TagsErr != nil {
		return a.TagsErr
	}
	if a.LocalTags == nil {
		a.LocalTags = map[string]string{}
	}
	for _, k := range remove {
		delete(a.LocalTags, k)
	}
	maps.Copy(a.LocalTags, set)
	return nil
}

// Tags returns a copy of LocalTags (nil if there are none).
func (a *Agent) Tags() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.LocalTags)
}

// Stats returns StatsMap.
func (a *Agent) Stats() map[string]map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.StatsMap
}

// Subscribe delivers what Publish is given from now on.
func (a *Agent) Subscribe() (<-chan events.Event, func()) {
	f := newFeed[events.Event]()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eventSubs == nil {
		a.eventSubs = map[*feed[events.Event]]struct{}{}
	}
	a.eventSubs[f] = struct{}{}
	return f.ch, unsubscribe(&a.mu, a.eventSubs, f)
}

// Publish hands e to every subscriber, waiting until each has taken it:
// a server that does not drain a subscription blocks Publish.
func (a *Agent) Publish(e events.Event) {
	a.mu.Lock()
	subs := slices.Collect(maps.Keys(a.eventSubs))
	a.mu.Unlock()
	sendAll(subs, e)
}

// EventSubscribers returns how many event subscriptions are open.
func (a *Agent) EventSubscribers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.eventSubs)
}

// SubscribeLogs returns the last lines given to Log at level min or above
// and delivers such lines from now on.
func (a *Agent) SubscribeLogs(min slog.Level) ([]string, <-chan string, func()) {
	f := newFeed[string]()
	a.mu.Lock()
	defer a.mu.Unlock()
	var recent []string
	for _, l := range a.recentLogs {
		if l.level >= min {
			recent = append(recent, l.text)
		}
	}
	if a.logSubs == nil {
		a.logSubs = map[*feed[string]]slog.Level{}
	}
	a.logSubs[f] = min
	return recent, f.ch, unsubscribe(&a.mu, a.logSubs, f)
}

// Log keeps line for later monitors and hands it to every monitor whose
// minimum level is at or below level, waiting until each has taken it.
func (a *Agent) Log(level slog.Level, line string) {
	a.mu.Lock()
	a.recentLogs = append(a.recentLogs, logLine{level, line})
	if len(a.recentLogs) > recentLogsKept {
		a.recentLogs = a.recentLogs[1:]
	}
	var subs []*feed[string]
	for f, min := range a.logSubs {
		if level >= min {
			subs = append(subs, f)
		}
	}
	a.mu.Unlock()
	sendAll(subs, line)
}

// LogSubscribers returns how many log subscriptions (monitors) are open.
func (a *Agent) LogSubscribers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.logSubs)
}

// feed is one subscription: an unbuffered channel the agent sends to until
// the subscription is cancelled.
type feed[T any] struct {
	ch   chan T
	done chan struct{}
	once sync.Once
}

func newFeed[T any]() *feed[T] {
	return &feed[T]{ch: make(chan T), done: make(chan struct{})}
}

// send waits until v is taken or the subscription is cancelled.
func (f *feed[T]) send(v T) {
	select {
	case f.ch <- v:
	case <-f.done:
	}
}

// sendAll sends v on each feed in turn.
func sendAll[T any](feeds []*feed[T], v T) {
	for _, f := range feeds {
		f.send(v)
	}
}

// unsubscribe returns the cancel func of f, a key of subs, which mu
// guards. The func is safe to call more than once and while a send waits.
func unsubscribe[T, V any](mu *sync.Mutex, subs map[*feed[T]]V, f *feed[T]) func() {
	return func() {
		f.once.Do(func() { close(f.done) })
		mu.Lock()
		defer mu.Unlock()
		delete(subs, f)
	}
}

// Member builds a member for tests, speaking the usual protocol ranges.
func Member(name, ip string, status events.MemberStatus, tags map[string]string) events.Member {
	return events.Member{
		Name: name, Addr: net.ParseIP(ip), Port: 7946, Tags: tags, Status: status,
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

var (
	_ rpc.Cluster     = (*Agent)(nil)
	_ rpc.LocalAgent  = (*Agent)(nil)
	_ rpc.EventSource = (*Agent)(nil)
	_ rpc.LogSource   = (*Agent)(nil)
)
