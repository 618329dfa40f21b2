package gossip_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/internal/testlog"
)

// restartable starts a node again and again under one name, port and
// snapshot file.
type restartable struct {
	t    *testing.T
	name string
	port int
	snap string
	log  *testlog.Buffer
	tune func(*gossip.Config)
}

func (r *restartable) start() (*gossip.Node, *eventLog) {
	r.t.Helper()
	cfg := fastConfig(r.t, r.name)
	cfg.BindPort = r.port
	cfg.SnapshotPath = r.snap
	r.log = &testlog.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(r.log, nil))
	if r.tune != nil {
		r.tune(&cfg)
	}
	ch := make(chan events.Event, 256)
	cfg.Events = ch
	n, err := gossip.Create(cfg)
	if err != nil {
		r.t.Fatalf("start %s: %v", r.name, err)
	}
	el := newEventLog(ch)
	r.t.Cleanup(func() {
		_ = n.Shutdown()
		el.stop()
	})
	r.port = int(n.LocalMember().Port)
	return n, el
}

// TestSnapshotRestartRejoinsWithoutReplay: a node that crashed comes back
// from its snapshot alone: it rejoins without a join call, runs the event
// fired while it was down, and never runs again one it had already seen.
func TestSnapshotRestartRejoinsWithoutReplay(t *testing.T) {
	peer, _ := startNode(t, fastConfig(t, "peer"))
	r := &restartable{t: t, name: "restarter", snap: filepath.Join(t.TempDir(), "snapshot")}
	a, aLog := r.start()
	if _, err := a.Join(context.Background(), []string{peer.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	if err := peer.UserEvent("before", []byte("1"), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() string {
		if aLog.userCounts()["before:1"] != 1 {
			return fmt.Sprintf("the first event did not arrive: %v", aLog.userCounts())
		}
		return ""
	})
	if err := a.Shutdown(); err != nil { // a crash: no leave
		t.Fatal(err)
	}
	if err := peer.UserEvent("while-down", []byte("2"), false); err != nil {
		t.Fatal(err)
	}

	a2, a2Log := r.start()
	waitFor(t, 20*time.Second, func() string {
		if why := viewOf(a2).expectStatus("restarter", map[string]events.MemberStatus{"peer": events.StatusAlive, "restarter": events.StatusAlive}); why != "" {
			return "no rejoin from the snapshot: " + why
		}
		if a2Log.userCounts()["while-down:2"] != 1 {
			return fmt.Sprintf("the event fired while down was not delivered once: %v", a2Log.userCounts())
		}
		return ""
	})
	// Give a push/pull time to offer the old event again.
	if err := peer.UserEvent("marker", []byte("3"), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() string {
		if a2Log.userCounts()["marker:3"] != 1 {
			return "the marker did not arrive"
		}
		return ""
	})
	if n := a2Log.userCounts()["before:1"]; n != 0 {
		t.Fatalf("the event seen before the crash ran again after the restart (%d times)", n)
	}
	if !strings.Contains(r.log.String(), "snapshot restored") {
		t.Errorf("no log line about the restored snapshot:\n%s", r.log.String())
	}
}

// TestSnapshotAfterLeave: after a graceful leave the node does not rejoin
// by itself, unless RejoinAfterLeave is set.
func TestSnapshotAfterLeave(t *testing.T) {
	for _, rejoin := range []bool{false, true} {
		t.Run(fmt.Sprintf("rejoin_after_leave=%t", rejoin), func(t *testing.T) {
			peer, _ := startNode(t, fastConfig(t, "peer"))
			r := &restartable{t: t, name: "leaver", snap: filepath.Join(t.TempDir(), "snapshot"),
				tune: func(c *gossip.Config) { c.RejoinAfterLeave = rejoin }}
			a, _ := r.start()
			if _, err := a.Join(context.Background(), []string{peer.Addr()}, false); err != nil {
				t.Fatal(err)
			}
			if err := a.Leave(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := a.Shutdown(); err != nil {
				t.Fatal(err)
			}
			a2, _ := r.start()
			waitFor(t, 20*time.Second, func() string {
				if rejoin {
					if a2.NumMembers() != 2 {
						return "did not rejoin despite rejoin_after_leave"
					}
					return ""
				}
				if !strings.Contains(r.log.String(), "not rejoining") {
					return "no log line about not rejoining after the leave"
				}
				return ""
			})
			if !rejoin && a2.NumMembers() != 1 {
				t.Fatalf("rejoined after a leave without rejoin_after_leave: %d members", a2.NumMembers())
			}
		})
	}
}
