package rpc_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/rpc/rpctest"
	"github.com/hashicorp/serf/client"
)

func TestSerfClientUserEvent(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	if _, err := within(t, "UserEvent()", func() (int, error) { return 0, c.UserEvent("deploy", []byte("v42"), true) }); err != nil {
		t.Fatalf("UserEvent() = %v; want nil", err)
	}
	if _, err := within(t, "UserEvent()", func() (int, error) { return 0, c.UserEvent("restart", nil, false) }); err != nil {
		t.Fatalf("UserEvent() = %v; want nil", err)
	}
	h.fake.Update(func(a *rpctest.Agent) {
		a.UserEventErr = errors.New("user event too large: 600 bytes, over the limit of 512")
	})
	_, err := within(t, "UserEvent()", func() (int, error) { return 0, c.UserEvent("big", make([]byte, 600), false) })
	wantSerfErr(t, "UserEvent()", err, "user event too large: 600 bytes, over the limit of 512")

	got := h.fake.UserEvents()
	if len(got) != 3 || got[0].Name != "deploy" || string(got[0].Payload) != "v42" || !got[0].Coalesce ||
		got[1].Name != "restart" || len(got[1].Payload) != 0 || got[1].Coalesce || len(got[2].Payload) != 600 {
		t.Errorf("agent saw user events %+v; want deploy v42 coalesced, restart, big", got)
	}
}

func TestSerfClientStreamUserEvents(t *testing.T) {
	h := startServer(t, nil)
	c := serfClient(t, h, "")
	ch := make(chan map[string]any, 16)
	handle, err := within(t, "Stream()", func() (client.StreamHandle, error) { return c.Stream("user:deploy", ch) })
	if err != nil {
		t.Fatalf("Stream() = %v; want nil", err)
	}
	defer within(t, "Stop()", func() (int, error) { return 0, c.Stop(handle) })
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })

	h.fake.Publish(events.UserEvent{LTime: 7, Name: "restart", Payload: []byte("no")}) // filtered out
	h.fake.Publish(events.UserEvent{LTime: 8, Name: "deploy", Payload: []byte("v42"), Coalesce: true})
	select {
	case rec := <-ch:
		if rec["Event"] != "user" || rec["Name"] != "deploy" || !bytes.Equal(asBytes(rec["Payload"]), []byte("v42")) ||
			rec["Coalesce"] != true || fmt.Sprint(rec["LTime"]) != "8" {
			t.Errorf("record = %#v; want user deploy v42 at 8, coalesce", rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no user record within 10s")
	}
}

func TestClientUserEventRoundTrip(t *testing.T) {
	h := startServer(t, nil)
	c := dial(t, h.addr, "")
	evs, stop, err := c.Stream(testCtx(t), "user")
	if err != nil {
		t.Fatal(err)
	}
	defer stop(testCtx(t))
	waitFor(t, "the stream to subscribe", func() bool { return h.fake.EventSubscribers() == 1 })
	if err := c.UserEvent(testCtx(t), "deploy", []byte("v1"), false); err != nil {
		t.Fatalf("UserEvent = %v", err)
	}
	want := events.UserEvent{LTime: 3, Name: "deploy", Payload: []byte("v1"), Coalesce: true}
	h.fake.Publish(want)
	select {
	case got := <-evs:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("streamed %#v; want %#v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no user event streamed within 10s")
	}
	if got := h.fake.UserEvents(); len(got) != 1 || got[0].Name != "deploy" {
		t.Errorf("agent saw %+v; want one deploy event", got)
	}
}
