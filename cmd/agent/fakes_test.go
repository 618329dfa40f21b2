package main

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
)

// fakeAgent is an in-memory agent behind a real rpc.Server: it implements
// rpc.Cluster, rpc.LocalAgent, rpc.EventSource and rpc.LogSource, and
// records the calls it gets.
type fakeAgent struct {
	mu           sync.Mutex
	members      []events.Member
	joinN        int
	joinErr      error
	joins        []joinCall
	forceErr     error
	forceLeaves  []forceLeaveCall
	leaves       int
	leaveErr     error
	userEvents   []events.UserEvent
	userEventErr error
	queryAnswers []rpc.QueryAnswer
	queryErr     error
	tags         map[string]string
	tagsErr      error
	stats        map[string]map[string]string
	recentLogs   []string
	logSubs      map[chan string]chan struct{} // live channel -> done
}

type joinCall struct {
	addrs  []string
	replay bool
}

type forceLeaveCall struct {
	node  string
	prune bool
}

// serve starts an rpc.Server for f on a free 127.0.0.1 port and returns
// its address and the server; the server is shut down when the test ends.
func (f *fakeAgent) serve(t *testing.T, authKey string) (string, *rpc.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := rpc.DefaultServerConfig()
	cfg.Listener = ln
	cfg.AuthKey = authKey
	cfg.Cluster, cfg.Local, cfg.Events, cfg.Logs = f, f, f, f
	srv, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return ln.Addr().String(), srv
}

func (f *fakeAgent) Members() []events.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]events.Member, len(f.members))
	for i, m := range f.members {
		out[i] = m.Clone()
	}
	return out
}

func (f *fakeAgent) Join(_ context.Context, addrs []string, replay bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joins = append(f.joins, joinCall{slices.Clone(addrs), replay})
	return f.joinN, f.joinErr
}

func (f *fakeAgent) ForceLeave(_ context.Context, node string, prune bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forceLeaves = append(f.forceLeaves, forceLeaveCall{node, prune})
	return f.forceErr
}

func (f *fakeAgent) UserEvent(name string, payload []byte, coalesce bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userEvents = append(f.userEvents, events.UserEvent{Name: name, Payload: payload, Coalesce: coalesce})
	return f.userEventErr
}

func (f *fakeAgent) Query(name string, payload []byte, p rpc.QueryParams) (<-chan rpc.QueryAnswer, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan rpc.QueryAnswer, len(f.queryAnswers))
	for _, a := range f.queryAnswers {
		ch <- a
	}
	close(ch)
	return ch, func() {}, f.queryErr
}

func (f *fakeAgent) Leave(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaves++
	return f.leaveErr
}

func (f *fakeAgent) UpdateTags(_ context.Context, set map[string]string, remove []string) error {
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

func (f *fakeAgent) Stats() map[string]map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Subscribe never delivers events: no CLI command streams them yet.
func (f *fakeAgent) Subscribe() (<-chan events.Event, func()) {
	return make(chan events.Event), func() {}
}

// SubscribeLogs ignores the level: tests check what reaches the output.
func (f *fakeAgent) SubscribeLogs(slog.Level) ([]string, <-chan string, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, done := make(chan string), make(chan struct{})
	if f.logSubs == nil {
		f.logSubs = map[chan string]chan struct{}{}
	}
	f.logSubs[ch] = done
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.logSubs, ch)
			f.mu.Unlock()
			close(done)
		})
	}
	return slices.Clone(f.recentLogs), ch, cancel
}

// log hands a line to every monitor, waiting until each has taken it.
func (f *fakeAgent) log(line string) {
	f.mu.Lock()
	subs := maps.Clone(f.logSubs)
	f.mu.Unlock()
	for ch, done := range subs {
		select {
		case ch <- line:
		case <-done:
		}
	}
}

func (f *fakeAgent) calls() (joins []joinCall, forceLeaves []forceLeaveCall, leaves int, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.joins), slices.Clone(f.forceLeaves), f.leaves, maps.Clone(f.tags)
}

// member builds a test member.
func member(name, ip string, status events.MemberStatus, tags map[string]string) events.Member {
	return events.Member{
		Name: name, Addr: net.ParseIP(ip), Port: 7946, Tags: tags, Status: status,
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

var (
	_ rpc.Cluster     = (*fakeAgent)(nil)
	_ rpc.LocalAgent  = (*fakeAgent)(nil)
	_ rpc.EventSource = (*fakeAgent)(nil)
	_ rpc.LogSource   = (*fakeAgent)(nil)
)
