package gossip_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/gossip/memnet"
	"github.com/hashicorp/serf/serf"
)

// collect reads a query's acks and responses until it ends.
func collect(t *testing.T, r *gossip.QueryResponse) (acks []string, resps map[string]string, ended time.Time) {
	t.Helper()
	resps = map[string]string{}
	timeout := time.After(time.Until(r.Deadline()) + 10*time.Second)
	acksCh, respCh := r.Acks(), r.Responses()
	for acksCh != nil || respCh != nil {
		select {
		case a, ok := <-acksCh:
			if !ok {
				acksCh = nil
				continue
			}
			acks = append(acks, a)
		case nr, ok := <-respCh:
			if !ok {
				respCh = nil
				continue
			}
			resps[nr.From] = string(nr.Payload)
		case <-timeout:
			t.Fatal("query did not end after its deadline")
		}
	}
	sort.Strings(acks)
	return acks, resps, time.Now()
}

func TestQueryAnsweredByEveryNodeEndsEarly(t *testing.T) {
	nodes, logs := startJoined(t, 5)
	for i, l := range logs {
		l.setResponder(func(q *events.QueryEvent) []byte { return fmt.Appendf(nil, "%s from node-%d", q.Payload, i) })
	}
	r, err := nodes[0].Query("uptime", []byte("hi"), gossip.QueryParams{RequestAck: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Expected(); len(got) != 5 {
		t.Errorf("expected responders %v; want all 5", got)
	}
	acks, resps, ended := collect(t, r)
	if len(acks) != 5 || len(resps) != 5 {
		t.Fatalf("acks %v, responses %v; want 5 of each", acks, resps)
	}
	for i := range 5 {
		if got, want := resps[fmt.Sprintf("node-%d", i)], fmt.Sprintf("hi from node-%d", i); got != want {
			t.Errorf("response of node-%d = %q; want %q", i, got, want)
		}
	}
	if !ended.Before(r.Deadline()) {
		t.Errorf("query with every answer in ended at its deadline, not early")
	}
	select {
	case <-r.Done():
	default:
		t.Error("Done not closed after the channels were")
	}
}

func TestQueryFilters(t *testing.T) {
	var nodes []*gossip.Node
	for i := range 4 {
		cfg := fastConfig(t, fmt.Sprintf("node-%d", i))
		cfg.Tags = map[string]string{"role": []string{"web", "db"}[i%2], "zone": fmt.Sprintf("z%d", i)}
		nd, el := startNode(t, cfg)
		if i > 0 {
			if _, err := nd.Join(t.Context(), []string{nodes[0].Addr()}, false); err != nil {
				t.Fatal(err)
			}
		}
		el.setResponder(func(*events.QueryEvent) []byte { return []byte("yes") })
		nodes = append(nodes, nd)
	}
	waitFor(t, 15*time.Second, func() string {
		for _, nd := range nodes {
			if nd.NumMembers() != 4 {
				return fmt.Sprintf("%s knows %d members", nd.Name(), nd.NumMembers())
			}
		}
		return ""
	})
	tests := []struct {
		name string
		p    gossip.QueryParams
		want []string
	}{
		{"nodes", gossip.QueryParams{FilterNodes: []string{"node-1", "node-2"}}, []string{"node-1", "node-2"}},
		{"tag", gossip.QueryParams{FilterTags: map[string]string{"role": "^web$"}}, []string{"node-0", "node-2"}},
		{"tag regex is unanchored", gossip.QueryParams{FilterTags: map[string]string{"zone": "[13]"}}, []string{"node-1", "node-3"}},
		{"both", gossip.QueryParams{FilterNodes: []string{"node-0", "node-1"}, FilterTags: map[string]string{"role": "db"}}, []string{"node-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Timeout = 20 * time.Second
			r, err := nodes[3].Query("q-"+tt.name, nil, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Expected(); !slices.Equal(got, tt.want) {
				t.Errorf("expected %v; want %v", got, tt.want)
			}
			_, resps, ended := collect(t, r)
			var got []string
			for k := range resps {
				got = append(got, k)
			}
			sort.Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("responses from %v; want %v", got, tt.want)
			}
			if !ended.Before(r.Deadline()) {
				t.Error("query did not end early")
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	cfg := fastConfig(t, "solo")
	cfg.QueryResponseSizeLimit = 100
	nd, el := startNode(t, cfg)
	if _, err := nd.Query("_serf_conflict", nil, gossip.QueryParams{}); !errors.Is(err, gossip.ErrInternalName) {
		t.Errorf("Query(_serf_conflict) = %v; want ErrInternalName", err)
	}
	if _, err := nd.Query("big", make([]byte, 2000), gossip.QueryParams{}); !errors.Is(err, gossip.ErrQueryTooLarge) || !strings.Contains(err.Error(), "1024") {
		t.Errorf("Query(2000 bytes) = %v; want ErrQueryTooLarge naming the limit", err)
	}
	if _, err := nd.Query("bad", nil, gossip.QueryParams{FilterTags: map[string]string{"role": "("}}); err == nil {
		t.Error("Query with a bad tag regex succeeded")
	}
	r, err := nd.Query("answer", nil, gossip.QueryParams{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var q *events.QueryEvent
	waitFor(t, 10*time.Second, func() string {
		if qs := el.queryEvents(); len(qs) == 1 {
			q = qs[0]
			return ""
		}
		return "the query has not been delivered locally"
	})
	if err := q.Respond(make([]byte, 200)); !errors.Is(err, gossip.ErrResponseTooLarge) || !strings.Contains(err.Error(), "limit of 100") {
		t.Errorf("oversized Respond = %v; want ErrResponseTooLarge naming the limit", err)
	}
	if err := q.Respond([]byte("again")); !errors.Is(err, gossip.ErrAlreadyResponded) {
		t.Errorf("second Respond = %v; want ErrAlreadyResponded", err)
	}
	// The asker is told, as this node's response.
	select {
	case nr := <-r.Responses():
		if nr.From != "solo" || !strings.Contains(string(nr.Payload), "exceeds the responder's query_response_size_limit of 100 bytes") {
			t.Errorf("asker got %q from %s; want the size error", nr.Payload, nr.From)
		}
	case <-time.After(10 * time.Second):
		t.Error("the asker heard nothing of the oversized response")
	}
	r.Close()
	if _, ok := <-r.Responses(); ok {
		t.Error("response channel open after Close")
	}
}

// Both nodes run on a network of their own (memnet), away from other
// tests' packets: a query that reaches a Serf node while serf.Create runs
// trips a data race inside Serf's library (it sets its memberlist field
// after memberlist has started handling packets; seen once under -race).
func TestSerfInteropQueries(t *testing.T) {
	nw := memnet.New(memnet.Config{Seed: 3})
	t.Cleanup(func() { _ = nw.Close() })
	cfg := fastConfig(t, "ours")
	cfg.Transport = nw.NewTransport()
	ours, ourLog := startNode(t, cfg)
	ourLog.setResponder(func(q *events.QueryEvent) []byte { return append([]byte("ours:"), q.Payload...) })
	serfEvents := make(chan serf.Event, 64)
	theirs := startSerfWith(t, "serf", map[string]string{"role": "db"}, func(c *serf.Config) {
		c.EventCh = serfEvents
		c.MemberlistConfig.Transport = nw.NewTransport()
	})
	go func() {
		for e := range serfEvents {
			if q, ok := e.(*serf.Query); ok {
				_ = q.Respond(append([]byte("serf:"), q.Payload...))
			}
		}
	}()
	if _, err := theirs.Join([]string{ours.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() string {
		if ours.NumMembers() != 2 || theirs.NumNodes() != 2 {
			return "not joined yet"
		}
		return ""
	})

	// Ours asks: both answer, with acks.
	r, err := ours.Query("who", []byte("x"), gossip.QueryParams{RequestAck: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	acks, resps, _ := collect(t, r)
	if !slices.Equal(acks, []string{"ours", "serf"}) || resps["ours"] != "ours:x" || resps["serf"] != "serf:x" {
		t.Errorf("ours asked: acks %v responses %v; want both", acks, resps)
	}

	// Serf asks, filtered to our node by tag: only ours answers.
	sr, err := theirs.Query("who", []byte("y"), &serf.QueryParam{RequestAck: true, Timeout: 5 * time.Second, FilterNodes: []string{"ours"}})
	if err != nil {
		t.Fatal(err)
	}
	var gotAck, gotResp string
	for sr.AckCh() != nil || sr.ResponseCh() != nil {
		select {
		case a, ok := <-sr.AckCh():
			if !ok {
				goto done
			}
			gotAck = a
		case nr, ok := <-sr.ResponseCh():
			if !ok {
				goto done
			}
			gotResp = nr.From + "=" + string(nr.Payload)
		}
		if gotAck != "" && gotResp != "" {
			break
		}
	}
done:
	if gotAck != "ours" || gotResp != "ours=ours:y" {
		t.Errorf("serf asked: ack %q response %q; want ours and ours=ours:y", gotAck, gotResp)
	}
}

func TestPingQuery(t *testing.T) {
	nodes, logs := startJoined(t, 4)
	if _, err := nodes[0].Query(gossip.PingQuery, []byte("x"), gossip.QueryParams{}); !errors.Is(err, gossip.ErrInternalName) {
		t.Errorf("ping with a payload = %v; want ErrInternalName", err)
	}
	r, err := nodes[1].Query(gossip.PingQuery, nil, gossip.QueryParams{RequestAck: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	acks, resps, ended := collect(t, r)
	if want := []string{"node-0", "node-1", "node-2", "node-3"}; !slices.Equal(acks, want) || len(resps) != 0 {
		t.Errorf("ping: acks %v responses %v; want acks from %v and no response", acks, resps, want)
	}
	if !ended.Before(r.Deadline()) {
		t.Error("ping did not end once every node acked")
	}
	for i, l := range logs {
		if qs := l.queryEvents(); len(qs) != 0 {
			t.Errorf("node-%d delivered the internal ping to its consumer: %v", i, qs)
		}
	}
}

// With a relay factor, answers also travel through other members; each
// node's ack and response still count once.
func TestQueryRelayFactor(t *testing.T) {
	nodes, logs := startJoined(t, 5)
	for _, l := range logs {
		l.setResponder(func(*events.QueryEvent) []byte { return []byte("ok") })
	}
	r, err := nodes[0].Query("relayed", nil, gossip.QueryParams{RequestAck: true, RelayFactor: 2, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	acks, resps, ended := collect(t, r)
	if len(acks) != 5 || len(resps) != 5 {
		t.Errorf("acks %v responses %v; want 5 of each, once", acks, resps)
	}
	if !ended.Before(r.Deadline()) {
		t.Error("relayed query did not end early")
	}
}
