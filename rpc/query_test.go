package rpc_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/serf/client"
)

func TestClientQuery(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) {
		a.QueryAnswers = []rpc.QueryAnswer{{Ack: true, From: "a"}, {From: "a", Payload: []byte("up 3d")}, {Ack: true, From: "b"}}
	})
	c := dial(t, h.addr, "")
	answers, err := c.Query(testCtx(t), "uptime", []byte("x"), rpc.QueryParams{FilterNodes: []string{"a", "b"}, RequestAck: true, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for a := range answers {
		got = append(got, fmt.Sprintf("%t %s %s", a.Ack, a.From, a.Payload))
	}
	if want := []string{"true a ", "false a up 3d", "true b "}; !slices.Equal(got, want) {
		t.Errorf("answers %q; want %q", got, want)
	}
	queries := h.fake.Queries()
	if len(queries) != 1 || queries[0].Name != "uptime" || !queries[0].Params.RequestAck ||
		queries[0].Params.Timeout != 3*time.Second || !slices.Equal(queries[0].Params.FilterNodes, []string{"a", "b"}) {
		t.Errorf("agent got queries %+v", queries)
	}
}

func TestSerfClientQueryAndRespond(t *testing.T) {
	h := startServer(t, nil)
	h.fake.Update(func(a *rpctest.Agent) {
		a.QueryAnswers = []rpc.QueryAnswer{{Ack: true, From: "a"}, {From: "a", Payload: []byte("pong")}}
	})
	c := serfClient(t, h, "")
	acks, resps := make(chan string, 4), make(chan client.NodeResponse, 4)
	if _, err := within(t, "Query()", func() (int, error) {
		return 0, c.Query(&client.QueryParam{Name: "ping", RequestAck: true, AckCh: acks, RespCh: resps})
	}); err != nil {
		t.Fatalf("Query() = %v", err)
	}
	select {
	case a := <-acks:
		if a != "a" {
			t.Errorf("ack from %q; want a", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ack within 10s")
	}
	select {
	case r := <-resps:
		if r.From != "a" || string(r.Payload) != "pong" {
			t.Errorf("response %+v; want pong from a", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response within 10s")
	}

	// A query streamed to this client can be answered by its ID, once.
	ch := make(chan map[string]any, 4)
	handle, err := within(t, "Stream()", func() (client.StreamHandle, error) { return c.Stream("query", ch) })
	if err != nil {
		t.Fatal(err)
	}
	defer within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) })
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })
	answered := make(chan string, 1)
	h.fake.Publish(&events.QueryEvent{ID: 77, LTime: 5, Name: "load", Payload: []byte("q"), Deadline: time.Now().Add(time.Minute),
		Responder: func(b []byte) error { answered <- string(b); return nil }})
	select {
	case rec := <-ch:
		if rec["Event"] != "query" || rec["Name"] != "load" || fmt.Sprint(rec["ID"]) != "77" {
			t.Fatalf("record %#v; want query load 77", rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no query record within 10s")
	}
	if _, err := within(t, "Respond()", func() (int, error) { return 0, c.Respond(77, []byte("0.5")) }); err != nil {
		t.Fatalf("Respond() = %v", err)
	}
	if got := <-answered; got != "0.5" {
		t.Errorf("answered %q; want 0.5", got)
	}
	_, err = within(t, "Respond()", func() (int, error) { return 0, c.Respond(77, []byte("again")) })
	wantSerfErr(t, "second Respond()", err, "No pending queries matching ID")
}
