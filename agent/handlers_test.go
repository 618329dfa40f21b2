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
