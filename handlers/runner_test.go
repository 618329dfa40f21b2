package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentd/agent/events"
)

// waitFor polls cond every 10 ms until it returns "" or 20 s pass.
func waitFor(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fileLines returns the lines of path, none if it does not exist yet.
func fileLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// logRecords collects log records for assertions.
type logRecords struct {
	mu   sync.Mutex
	recs []string // "LEVEL message key=value ..."
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

func (l *logRecords) find(substrs ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		ok := true
		for _, s := range substrs {
			ok = ok && strings.Contains(r, s)
		}
		if ok {
			return r
		}
	}
	return ""
}

func newTestRunner(t *testing.T, cfg Config, specs ...string) (*Runner, *logRecords) {
	t.Helper()
	for _, s := range specs {
		spec, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Handlers = append(cfg.Handlers, spec)
	}
	logs := &logRecords{}
	cfg.Logger = slog.New(logs)
	if cfg.Self == nil {
		cfg.Self = func() events.Member {
			return events.Member{Name: "self", Addr: net.ParseIP("127.0.0.1"), Port: 7946, Tags: map[string]string{"role": "web"}}
		}
	}
	r := NewRunner(cfg)
	t.Cleanup(r.Close)
	return r, logs
}

func TestRunnerRunsMatchingHandlers(t *testing.T) {
	dir := t.TempDir()
	users, members := filepath.Join(dir, "users"), filepath.Join(dir, "members")
	r, logs := newTestRunner(t, Config{},
		fmt.Sprintf(`user:deploy=echo "$SERF_EVENT $SERF_USER_EVENT $SERF_USER_LTIME $SERF_SELF_NAME $SERF_TAG_ROLE $(cat)" >> %s`, users),
		fmt.Sprintf(`member-join,member-failed=echo "$SERF_EVENT $(cat | cut -f1,2 | tr '\t\n' ' ')" >> %s; echo out; echo err >&2`, members),
	)
	r.Handle(events.UserEvent{LTime: 7, Name: "deploy", Payload: []byte("v42")})
	r.Handle(events.UserEvent{LTime: 8, Name: "restart", Payload: []byte("no")})
	r.Handle(events.MemberEvent{Type: events.MemberJoin, Members: []events.Member{{Name: "a", Addr: net.ParseIP("10.0.0.1")}, {Name: "b", Addr: net.ParseIP("10.0.0.2")}}})
	r.Handle(events.MemberEvent{Type: events.MemberLeave, Members: []events.Member{{Name: "a", Addr: net.ParseIP("10.0.0.1")}}})
	r.Handle(events.UserEvent{LTime: 9, Name: "deploy", Payload: []byte("v43")})

	waitFor(t, func() string {
		if got := fileLines(users); len(got) != 2 || len(fileLines(members)) != 1 {
			return fmt.Sprintf("users %q, members %q", got, fileLines(members))
		}
		return ""
	})
	if got, want := fileLines(users), []string{"user deploy 7 self web v42", "user deploy 9 self web v43"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("user handler saw %q; want %q", got, want)
	}
	if got, want := fileLines(members), []string{"member-join a 10.0.0.1 b 10.0.0.2 "}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("member handler saw %q; want %q", got, want)
	}
	waitFor(t, func() string {
		if s := r.Stats(); s.Runs != 3 || s.Failures != 0 {
			return fmt.Sprintf("stats %+v; want 3 runs, no failure", s)
		}
		return ""
	})
	if logs.find("event handler ran", "exit=0", "output=out\nerr\n") == "" {
		t.Errorf("no log of the member handler's output with its exit status: %q", logs.all())
	}
}

func TestRunnerFailureIsLogged(t *testing.T) {
	r, logs := newTestRunner(t, Config{}, `echo broken; exit 3`)
	r.Handle(events.UserEvent{Name: "x"})
	waitFor(t, func() string {
		if logs.find("event handler failed", "exit=3", "output=broken") == "" {
			return fmt.Sprintf("no failure log yet: %q", logs.all())
		}
		return ""
	})
	if s := r.Stats(); s.Failures != 1 {
		t.Errorf("stats %+v; want 1 failure", s)
	}
}

// A handler that hangs is killed at its timeout, with its children, and
// meanwhile another handler runs every event.
func TestRunnerSlowHandlerIsolatedAndKilled(t *testing.T) {
	dir := t.TempDir()
	pidFile, marks := filepath.Join(dir, "child.pid"), filepath.Join(dir, "marks")
	r, logs := newTestRunner(t, Config{Timeout: time.Second},
		fmt.Sprintf(`user:hang=sleep 300 & echo $! > %s; wait`, pidFile),
		fmt.Sprintf(`user=echo "$SERF_USER_EVENT" >> %s`, marks),
	)
	r.Handle(events.UserEvent{LTime: 1, Name: "hang"})
	for i := range 3 {
		r.Handle(events.UserEvent{LTime: uint64(2 + i), Name: fmt.Sprintf("e%d", i)})
	}
	waitFor(t, func() string {
		if got := fileLines(marks); len(got) != 4 {
			return fmt.Sprintf("marks %q; want hang e0 e1 e2", got)
		}
		return ""
	})
	if r.Stats().Timeouts != 0 {
		t.Fatal("the quick handler had to wait for the timeout")
	}
	waitFor(t, func() string {
		if r.Stats().Timeouts != 1 || logs.find("timed out", "killed its process group") == "" {
			return fmt.Sprintf("stats %+v, no timeout logged yet", r.Stats())
		}
		return ""
	})
	pid, err := strconv.Atoi(strings.TrimSpace(strings.Join(fileLines(pidFile), "")))
	if err != nil {
		t.Fatalf("child pid: %v", err)
	}
	waitFor(t, func() string {
		if err := syscall.Kill(pid, 0); err == nil {
			return fmt.Sprintf("the handler's child %d outlived the timeout", pid)
		}
		return ""
	})
}

// Events are run in order; past the queue size the oldest waiting ones
// are dropped and counted.
func TestRunnerQueueOrderAndOverflow(t *testing.T) {
	dir := t.TempDir()
	gate, out := filepath.Join(dir, "gate"), filepath.Join(dir, "out")
	r, logs := newTestRunner(t, Config{QueueSize: 2},
		fmt.Sprintf(`while [ ! -e %s ]; do sleep 0.01; done; cat >> %s`, gate, out))
	r.Handle(events.UserEvent{Name: "e", Payload: []byte("first")})
	waitFor(t, func() string { // the first run has started and waits at the gate
		r.workers[0].mu.Lock()
		defer r.workers[0].mu.Unlock()
		if len(r.workers[0].queue) != 0 {
			return "first event still queued"
		}
		return ""
	})
	for i := range 4 {
		r.Handle(events.UserEvent{Name: "e", Payload: []byte(fmt.Sprintf("p%d", i))})
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() string {
		if got := fileLines(out); len(got) != 3 {
			return fmt.Sprintf("out %q", got)
		}
		return ""
	})
	if got, want := strings.Join(fileLines(out), " "), "first p2 p3"; got != want {
		t.Errorf("ran %q; want %q", got, want)
	}
	if s := r.Stats(); s.Dropped != 2 {
		t.Errorf("stats %+v; want 2 dropped", s)
	}
	if logs.find("queue full", "dropped_total=2") == "" {
		t.Errorf("no log of the drops: %q", logs.all())
	}
}

func TestRunnerSetHandlers(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	specA := fmt.Sprintf(`cat >> %s`, a)
	r, _ := newTestRunner(t, Config{}, specA)
	r.Handle(events.UserEvent{Name: "e", Payload: []byte("1")})
	waitFor(t, func() string {
		if len(fileLines(a)) != 1 {
			return "a has not run"
		}
		return ""
	})
	var specs []Spec
	for _, s := range []string{specA, fmt.Sprintf(`user=cat >> %s`, b)} {
		sp, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, sp)
	}
	kept := r.workers[0]
	r.SetHandlers(specs)
	if r.workers[0] != kept {
		t.Error("an unchanged handler lost its queue on reload")
	}
	r.Handle(events.UserEvent{Name: "e", Payload: []byte("2")})
	waitFor(t, func() string {
		if len(fileLines(a)) != 2 || len(fileLines(b)) != 1 {
			return fmt.Sprintf("a %q b %q", fileLines(a), fileLines(b))
		}
		return ""
	})
	r.SetHandlers(nil)
	if s := r.Stats(); s.Handlers != 0 {
		t.Errorf("stats %+v after removing every handler", s)
	}
}

func TestRunnerQueryHandlerResponds(t *testing.T) {
	r, _ := newTestRunner(t, Config{},
		`query:uptime=echo "$SERF_QUERY_NAME $SERF_QUERY_LTIME $(cat)"`,
		`query:fail=echo nope; exit 1`,
	)
	answers := make(chan string, 2)
	for _, name := range []string{"uptime", "fail"} {
		r.Handle(&events.QueryEvent{LTime: 4, Name: name, Payload: []byte("p"),
			Responder: func(b []byte) error { answers <- name + ": " + string(b); return nil }})
	}
	select {
	case got := <-answers:
		if got != "uptime: uptime 4 p\n" {
			t.Errorf("answer %q; want the handler's output", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the query handler did not answer")
	}
	waitFor(t, func() string {
		if s := r.Stats(); s.Runs != 2 {
			return fmt.Sprintf("stats %+v; want 2 runs", s)
		}
		return ""
	})
	select {
	case got := <-answers:
		t.Errorf("a failed handler answered %q", got)
	default:
	}
}
