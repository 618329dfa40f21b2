package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/rpc"
)

// Two agents with a user-event handler each: an event fired through one
// agent's RPC runs both handlers once, with Serf's environment and stdin.
func TestRunUserEventRunsHandlers(t *testing.T) {
	dir := t.TempDir()
	handler := func(name string) []string {
		out := filepath.Join(dir, name)
		return []string{fmt.Sprintf(`user:deploy=echo "$SERF_EVENT $SERF_USER_EVENT $SERF_SELF_NAME $(cat)" >> %s`, out)}
	}
	rpcA, gossipA, _ := startRun(t, "a", &FileConfig{EventHandlers: handler("a")})
	startRun(t, "b", &FileConfig{EventHandlers: handler("b"), StartJoin: []string{gossipA}})
	ctx := context.Background()
	c, err := rpc.Dial(ctx, rpcA, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ms, err := c.Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a sees %d members; want 2", len(ms))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.UserEvent(ctx, "deploy", []byte("v42"), false); err != nil {
		t.Fatal(err)
	}
	if err := c.UserEvent(ctx, "other", []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		want := fmt.Sprintf("user deploy %s v42\n", name)
		deadline := time.Now().Add(15 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(dir, name))
			if string(b) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("handler of %s wrote %q; want %q", name, b, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestRunRejectsBadHandler(t *testing.T) {
	err := Run(context.Background(), RunOptions{Flags: &FileConfig{EventHandlers: []string{"member-joined=x.sh"}}, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `unknown event type "member-joined"`) {
		t.Errorf("Run(bad handler) = %v; want an error naming the bad event type", err)
	}
}

// Coalescable user events fired in a burst run the handler once, with the
// latest; events not flagged run it every time.
func TestRunCoalescesUserEvents(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	rpcA, _, _ := startRun(t, "a", &FileConfig{EventHandlers: []string{fmt.Sprintf(`user=cat >> %s`, out)}})
	ctx := context.Background()
	c, err := rpc.Dial(ctx, rpcA, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if err := c.UserEvent(ctx, "deploy", fmt.Appendf(nil, "v%d", i), true); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string { b, _ := os.ReadFile(out); return string(b) }
	deadline := time.Now().Add(15 * time.Second)
	for read() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the handler did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.UserEvent(ctx, "marker", []byte("m"), false); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(read(), "m\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the marker did not run: %q", read())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := read(); got != "v4\nm\n" {
		t.Errorf("handler saw %q; want the burst merged into v4, then the marker", got)
	}
}

// A handler that hangs delays no other handler (its timeout, 30 s, is far
// beyond the wait here), and the agent's shutdown kills it.
func TestRunHungHandlerIsolated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	rpcA, _, _ := startRun(t, "a", &FileConfig{
		HandlerTimeout: &Duration{Duration: 30 * time.Second},
		EventHandlers:  []string{"user:hang=sleep 600", fmt.Sprintf(`user=echo "$SERF_USER_EVENT" >> %s`, out)},
	})
	ctx := context.Background()
	c, err := rpc.Dial(ctx, rpcA, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"hang", "a", "b"} {
		if err := c.UserEvent(ctx, name, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if string(b) == "hang\na\nb\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other handler wrote %q; want hang, a, b while the hung one runs", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A run counts once its process is reaped, just after it wrote.
	for {
		stats, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := stats["handlers"]
		if h["runs"] == "3" && h["timeouts"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler stats %v; want 3 runs done and the hung one still running", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
