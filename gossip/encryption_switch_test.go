package gossip_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
)

// TestSwitchToEncryptionWithoutOutage takes a live 3-node plaintext cluster
// to full encryption by three rolling restarts, the procedure of
// docs/encryption.md: install the key accepting and sending plaintext,
// then send encrypted, then refuse plaintext. No node is ever marked
// failed, and at the end a node without the key cannot join.
func TestSwitchToEncryptionWithoutOutage(t *testing.T) {
	key := newKey(t)
	names := []string{"sw-1", "sw-2", "sw-3"}
	ports := make([]int, len(names))
	nodes := make([]*gossip.Node, len(names))
	var logs []*eventLog
	start := func(i int, keys [][]byte, verifyIn, verifyOut bool) {
		t.Helper()
		cfg := fastConfig(t, names[i])
		// Gentle timings: a loaded machine must not cause false suspicion.
		cfg.Timing.ProbeInterval = time.Second
		cfg.Timing.ProbeTimeout = 500 * time.Millisecond
		cfg.Timing.SuspicionMult = 4
		cfg.BindPort = ports[i]
		cfg.Keys, cfg.EncryptVerifyIncoming, cfg.EncryptVerifyOutgoing = keys, verifyIn, verifyOut
		ch := make(chan events.Event, 256)
		cfg.Events = ch
		n, err := gossip.Create(cfg)
		if err != nil {
			t.Fatalf("start %s: %v", names[i], err)
		}
		el := newEventLog(ch)
		t.Cleanup(func() {
			_ = n.Shutdown()
			el.stop()
		})
		nodes[i], ports[i] = n, int(n.LocalMember().Port)
		logs = append(logs, el)
	}
	allAlive := func(phase string) {
		t.Helper()
		waitFor(t, 20*time.Second, func() string {
			for _, n := range nodes {
				if why := viewOf(n).expectStatus(n.Name(), map[string]events.MemberStatus{
					"sw-1": events.StatusAlive, "sw-2": events.StatusAlive, "sw-3": events.StatusAlive,
				}); why != "" {
					return phase + ": " + why
				}
			}
			return ""
		})
	}
	for i := range names {
		start(i, nil, true, true)
		if i > 0 {
			if _, err := nodes[i].Join(context.Background(), []string{nodes[0].Addr()}, false); err != nil {
				t.Fatalf("join: %v", err)
			}
		}
	}
	allAlive("plaintext")

	for _, phase := range []struct {
		name              string
		verifyIn, sendEnc bool
	}{
		{"key installed, plaintext in and out", false, false},
		{"encrypted out, plaintext still accepted", false, true},
		{"encrypted only", true, true},
	} {
		for i := range names {
			if err := nodes[i].Shutdown(); err != nil {
				t.Fatal(err)
			}
			start(i, [][]byte{key}, phase.verifyIn, phase.sendEnc)
			peer := nodes[(i+1)%len(nodes)]
			if _, err := nodes[i].Join(context.Background(), []string{peer.Addr()}, false); err != nil {
				t.Fatalf("%s: %s rejoin: %v", phase.name, names[i], err)
			}
			allAlive(fmt.Sprintf("%s, %s restarted", phase.name, names[i]))
			pingAll(t, nodes[i], len(names))
		}
	}
	for _, el := range logs {
		if n := el.count(events.MemberFailed); n != 0 {
			t.Fatalf("a node saw %d member-failed events during the switch; want 0", n)
		}
	}
	for i, n := range nodes {
		if !n.EncryptionEnabled() {
			t.Errorf("%s does not encrypt after the switch", names[i])
		}
	}
	stranger, _ := startNode(t, fastConfig(t, "stranger"))
	if _, err := stranger.Join(context.Background(), []string{nodes[0].Addr()}, false); err == nil {
		t.Fatal("a node without the key joined the encrypted cluster")
	}
}

// pingAll asks every member for an ack, which crosses the network both
// ways between n and each peer, and fails unless want nodes answer.
func pingAll(t *testing.T, n *gossip.Node, want int) {
	t.Helper()
	r, err := n.Query(gossip.PingQuery, nil, gossip.QueryParams{RequestAck: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range r.Acks() {
		got++
	}
	if got != want {
		t.Fatalf("%s: %d of %d members acknowledged a ping", n.Name(), got, want)
	}
}
