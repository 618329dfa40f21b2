package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
)

// fakeCluster is an in-memory Cluster.
type fakeCluster struct {
	mu           sync.Mutex
	members      []events.Member
	joinN        int
	joinErr      error
	joinBlock    chan struct{} // if set, Join waits for it to close (or ctx)
	joinsBegun   int
	joins        []joinCall
	forceErr     error
	forceLeaves  []forceLeaveCall
	userEvents   []events.UserEvent
	userEventErr error
	queries      []queryCall
	queryAnswers []rpc.QueryAnswer
	queryErr     error
}

type queryCall struct {
	name, payload string
	params        rpc.QueryParams
}

type joinCall struct {
	addrs  []string
	replay bool
}

type forceLeaveCall struct {
	node  string
	prune bool
}

func (f *fakeCluster) Members() []events.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]events.Member, len(f.members))
	for i, m := range f.members {
		out[i] = m.Clone()
	}
	return out
}

func (f *fakeCluster) Join(ctx context.Context, addrs []string, replay bool) (int, error) {
	f.mu.Lock()
	block := f.joinBlock
	f.joinsBegun++
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joins = append(f.joins, joinCall{slices.Clone(addrs), replay})
	return f.joinN, f.joinErr
}

func (f *fakeCluster) ForceLeave(ctx context.Context, node string, prune bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forceLeaves = append(f.forceLeaves, forceLeaveCall{node, prune})
	return f.forceErr
}

func (f *fakeCluster) UserEvent(name string, payload []byte, coalesce bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userEvents = append(f.userEvents, events.UserEvent{Name: name, Payload: payload, Coalesce: coalesce})
	return f.userEventErr
}

func (f *fakeCluster) Query(name string, payload []byte, p rpc.QueryParams) (<-chan rpc.QueryAnswer, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queryErr != nil {
		return nil, nil, f.queryErr
	}
	f.queries = append(f.queries, queryCall{name, string(payload), p})
	ch := make(chan rpc.QueryAnswer, len(f.queryAnswers))
	for _, a := range f.queryAnswers {
		ch <- a
	}
	close(ch)
	return ch, func() {}, nil
}

func (f *fakeCluster) begun() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.joinsBegun
}

func (f *fakeCluster) setMembers(ms ...events.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = ms
}

// fakeLocal is an in-memory LocalAgent.
type fakeLocal struct {
	mu       sync.Mutex
	leaves   int
	leaveErr error
	tags     map[string]string
	tagsErr  error
	stats    map[string]map[string]string
}

func (f *fakeLocal) Leave(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaves++
	return f.leaveErr
}

func (f *fakeLocal) UpdateTags(ctx context.Context, set map[string]string, remove []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tagsErr != nil {
		return f.tagsErr
	}
	if f.tags == nil {
		f.tags = map[string]string{}
	}
	for _, k := range remove {
		delete(f.tags, k)
	}
	maps.Copy(f.tags, set)
	return nil
}

func (f *fakeLocal) Stats() map[string]map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakeLocal) currentTags() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.tags)
}

func (f *fakeLocal) leaveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaves
}

// fakeEvents is an EventSource whose Publish waits until every subscriber
// has taken the event: an rpc server that did not drain its subscription
// would block Publish, which is what the slow-reader test looks for.
type fakeEvents struct {
	mu   sync.Mutex
	subs map[*eventSub]struct{}
}

type eventSub struct {
	ch   chan events.Event
	done chan struct{}
	once sync.Once
}

func (f *fakeEvents) Subscribe() (<-chan events.Event, func()) {
	s := &eventSub{ch: make(chan events.Event), done: make(chan struct{})}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*eventSub]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	cancel := func() {
		s.once.Do(func() { close(s.done) })
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
	return s.ch, cancel
}

// Publish delivers e to every current subscriber, waiting for each.
func (f *fakeEvents) Publish(e events.Event) {
	f.mu.Lock()
	subs := make([]*eventSub, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- e:
		case <-s.done:
		}
	}
}

func (f *fakeEvents) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// fakeLogs is a LogSource keeping the last few lines, like the daemon's.
type fakeLogs struct {
	mu     sync.Mutex
	recent []logLine
	subs   map[*logSub]struct{}
}

type logLine struct {
	level slog.Level
	text  string
}

type logSub struct {
	min  slog.Level
	ch   chan string
	done chan struct{}
	once sync.Once
}

const fakeLogsKept = 32

func (f *fakeLogs) SubscribeLogs(min slog.Level) ([]string, <-chan string, func()) {
	s := &logSub{min: min, ch: make(chan string), done: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	var recent []string
	for _, l := range f.recent {
		if l.level >= min {
			recent = append(recent, l.text)
		}
	}
	if f.subs == nil {
		f.subs = map[*logSub]struct{}{}
	}
	f.subs[s] = struct{}{}
	cancel := func() {
		s.once.Do(func() { close(s.done) })
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
	return recent, s.ch, cancel
}

// Log records a line and hands it to every subscriber at or below level,
// waiting for each.
func (f *fakeLogs) Log(level slog.Level, text string) {
	f.mu.Lock()
	f.recent = append(f.recent, logLine{level, text})
	if len(f.recent) > fakeLogsKept {
		f.recent = f.recent[1:]
	}
	var subs []*logSub
	for s := range f.subs {
		if level >= s.min {
			subs = append(subs, s)
		}
	}
	f.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- text:
		case <-s.done:
		}
	}
}

func (f *fakeLogs) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

var errFake = errors.New("fake failure")

// member builds a test member.
func member(name string, ip string, status events.MemberStatus, tags map[string]string) events.Member {
	return events.Member{
		Name: name, Addr: net.ParseIP(ip), Port: 7946, Tags: tags, Status: status,
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

var _ rpc.Cluster = (*fakeCluster)(nil)
var _ rpc.LocalAgent = (*fakeLocal)(nil)
var _ rpc.EventSource = (*fakeEvents)(nil)
var _ rpc.LogSource = (*fakeLogs)(nil)
