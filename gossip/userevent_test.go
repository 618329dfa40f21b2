package gossip_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/hashicorp/serf/serf"
)

// startJoined starts n of our nodes on loopback, all joined to the first.
func startJoined(t *testing.T, n int) ([]*gossip.Node, []*eventLog) {
	t.Helper()
	var nodes []*gossip.Node
	var logs []*eventLog
	for i := range n {
		nd, el := startNode(t, fastConfig(t, fmt.Sprintf("node-%d", i)))
		if i > 0 {
			if _, err := nd.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
				t.Fatalf("node-%d join: %v", i, err)
			}
		}
		nodes, logs = append(nodes, nd), append(logs, el)
	}
	waitFor(t, 15*time.Second, func() string {
		for _, nd := range nodes {
			if got := nd.NumMembers(); got != n {
				return fmt.Sprintf("%s knows %d members, want %d", nd.Name(), got, n)
			}
		}
		return ""
	})
	return nodes, logs
}

// waitUserEvents waits until every log has seen each of want ("name:payload")
// and then checks that none of them was delivered twice.
func waitUserEvents(t *testing.T, logs []*eventLog, want ...string) {
	t.Helper()
	waitFor(t, 15*time.Second, func() string {
		for i, l := range logs {
			got := l.userCounts()
			for _, w := range want {
				if got[w] == 0 {
					return fmt.Sprintf("log %d has not seen %s (has %v)", i, w, got)
				}
			}
		}
		return ""
	})
	for i, l := range logs {
		got := l.userCounts()
		for _, w := range want {
			if got[w] != 1 {
				t.Errorf("log %d saw %s %d times, want once", i, w, got[w])
			}
		}
	}
}

func TestUserEventReachesEveryNodeOnce(t *testing.T) {
	nodes, logs := startJoined(t, 5)
	var want []string
	for i := range 10 {
		from := nodes[i%len(nodes)]
		payload := fmt.Sprintf("v%d", i)
		if err := from.UserEvent("deploy", []byte(payload), false); err != nil {
			t.Fatalf("%s: UserEvent: %v", from.Name(), err)
		}
		want = append(want, "deploy:"+payload)
	}
	// The same name and payload fired twice are two events (two times).
	if err := nodes[0].UserEvent("deploy", []byte("v0"), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() string {
		for i, l := range logs {
			if got := l.userCounts()["deploy:v0"]; got != 2 {
				return fmt.Sprintf("log %d saw deploy:v0 %d times, want 2", i, got)
			}
		}
		return ""
	})
	waitUserEvents(t, logs, want[1:]...)
	for i, l := range logs {
		flagged := 0
		for _, e := range l.userEvents() {
			if e.Coalesce {
				flagged++
			}
		}
		if flagged != 1 {
			t.Errorf("log %d: %d events flagged coalesce, want 1", i, flagged)
		}
	}
	for i, nd := range nodes {
		_, clock, _ := nd.Clocks()
		for _, e := range logs[i].userEvents() {
			if gossip.LamportTime(e.LTime) >= clock {
				t.Errorf("%s: event clock %d not past the event at %d it saw", nd.Name(), clock, e.LTime)
			}
		}
		if got := nd.Stats().UserEvents; got != 11 {
			t.Errorf("%s: Stats().UserEvents = %d, want 11", nd.Name(), got)
		}
	}
}

func TestUserEventSizeLimit(t *testing.T) {
	cfg := fastConfig(t, "limited")
	cfg.UserEventSizeLimit = 100
	nd, _ := startNode(t, cfg)
	tests := []struct {
		name, payload string
		wantErr       string // "" for success
	}{
		{"small", "x", ""},
		{"n", strings.Repeat("x", 60), ""}, // encoding adds some 30 bytes
		{"deploy", strings.Repeat("x", 95), "name and payload are 101 bytes, over the limit of 100"},
		{"n", strings.Repeat("x", 79), "encoded it is"},
	}
	for _, tt := range tests {
		err := nd.UserEvent(tt.name, []byte(tt.payload), false)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("UserEvent(%s, %d bytes): %v", tt.name, len(tt.payload), err)
		case tt.wantErr != "" && (err == nil || !errors.Is(err, gossip.ErrUserEventTooLarge) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("UserEvent(%s, %d bytes) = %v, want ErrUserEventTooLarge saying %q", tt.name, len(tt.payload), err, tt.wantErr)
		}
	}
	for _, limit := range []int{0, gossip.MaxUserEventSizeLimit + 1} {
		cfg := fastConfig(t, "bad")
		cfg.UserEventSizeLimit = limit
		if _, err := gossip.New(cfg); err == nil || !strings.Contains(err.Error(), "user event size limit") {
			t.Errorf("limit %d: New = %v, want a user event size limit error", limit, err)
		}
	}
}

func TestJoinReplay(t *testing.T) {
	nodes, logs := startJoined(t, 2)
	if err := nodes[0].UserEvent("before", []byte("old"), false); err != nil {
		t.Fatal(err)
	}
	waitUserEvents(t, logs, "before:old")

	plain, plainLog := startNode(t, fastConfig(t, "no-replay"))
	replay, replayLog := startNode(t, fastConfig(t, "replay"))
	if _, err := plain.Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := replay.Join(context.Background(), []string{nodes[1].Addr()}, true); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].UserEvent("after", nil, false); err != nil {
		t.Fatal(err)
	}
	waitUserEvents(t, []*eventLog{plainLog, replayLog}, "after:")
	if got := plainLog.userCounts()["before:old"]; got != 0 {
		t.Errorf("a join without replay delivered an event from before the join %d times", got)
	}
	if got := replayLog.userCounts()["before:old"]; got != 1 {
		t.Errorf("a join with replay delivered the earlier event %d times, want 1", got)
	}
}

func TestSerfInteropUserEvents(t *testing.T) {
	// Ours sends plain packets, Serf compressed ones (its default): each
	// reads the other's.
	cfg := fastConfig(t, "ours")
	cfg.Compression = false
	ours, ourLog := startNode(t, cfg)
	serfEvents := make(chan serf.Event, 64)
	theirs := startSerfWith(t, "serf", nil, func(c *serf.Config) { c.EventCh = serfEvents })
	if _, err := theirs.Join([]string{ours.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	if err := theirs.UserEvent("from-serf", []byte("payload 1"), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() string {
		for _, e := range ourLog.userEvents() {
			if e.Name == "from-serf" && string(e.Payload) == "payload 1" && e.Coalesce {
				return ""
			}
		}
		return fmt.Sprintf("ours has not seen from-serf; has %v", ourLog.userEvents())
	})
	if err := ours.UserEvent("from-ours", []byte("payload 2"), false); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-serfEvents:
			if ue, ok := e.(serf.UserEvent); ok && ue.Name == "from-ours" {
				if string(ue.Payload) != "payload 2" || ue.Coalesce {
					t.Fatalf("serf got %+v, want payload 2 without coalesce", ue)
				}
				return
			}
		case <-deadline:
			t.Fatal("serf did not receive from-ours within 15s")
		}
	}
}

// Compile-time check that user events are events.
var _ events.Event = events.UserEvent{}
