package gossip

import (
	"reflect"
	"testing"
	"time"
)

func TestEventBufferAdd(t *testing.T) {
	ev := func(name, payload string) userEventRecord {
		return userEventRecord{Name: name, Payload: []byte(payload)}
	}
	type add struct {
		e            userEventRecord
		lt, now, min LamportTime
		want         addResult
	}
	tests := []struct {
		name string
		adds []add
	}{
		{"new then duplicate", []add{
			{ev("deploy", "v1"), 5, 6, 0, addedNew},
			{ev("deploy", "v1"), 5, 9, 0, addDuplicate},
		}},
		{"same time, other payload or name", []add{
			{ev("deploy", "v1"), 5, 6, 0, addedNew},
			{ev("deploy", "v2"), 5, 6, 0, addedNew},
			{ev("restart", "v1"), 5, 6, 0, addedNew},
			{ev("deploy", "v2"), 5, 6, 0, addDuplicate},
		}},
		{"nil and empty payloads are the same", []add{
			{userEventRecord{Name: "x"}, 3, 4, 0, addedNew},
			{userEventRecord{Name: "x", Payload: []byte{}}, 3, 4, 0, addDuplicate},
		}},
		{"older than the window", []add{
			{ev("a", ""), 100, 101 + eventWindow, 0, addTooOld},
			{ev("a", ""), 101, 101 + eventWindow, 0, addedNew},
		}},
		{"a duplicate far beyond Serf's 512 ticks is still recognised", []add{
			{ev("a", ""), 10, 11, 0, addedNew},
			{ev("a", ""), 10, 10 + eventWindow, 0, addDuplicate},
		}},
		{"before the join", []add{
			{ev("a", ""), 9, 20, 10, addBeforeMin},
			{ev("a", ""), 10, 20, 10, addedNew},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b eventBuffer
			for i, a := range tt.adds {
				if got := b.add(a.e, a.lt, a.now, a.min, time.Unix(0, 0)); got != a.want {
					t.Errorf("add %d (%s at %d, clock %d, min %d) = %v, want %v", i, a.e.Name, a.lt, a.now, a.min, got, a.want)
				}
			}
		})
	}
}

func TestEventBufferPrunes(t *testing.T) {
	var b eventBuffer
	for lt := LamportTime(1); lt <= 3*eventWindow; lt++ {
		b.add(userEventRecord{Name: "e"}, lt, lt+1, 0, time.Unix(0, 0))
	}
	if got := b.len(); got > eventWindow+256 {
		t.Errorf("buffer holds %d times after %d events; want at most the window (%d) plus one prune interval", got, 3*eventWindow, eventWindow)
	}
}

func TestEventBufferBatches(t *testing.T) {
	var b eventBuffer
	old, recent := time.Unix(1000, 0), time.Unix(2000, 0)
	b.add(userEventRecord{Name: "e"}, 5, 6, 0, old)     // old and outside Serf's window: not offered
	b.add(userEventRecord{Name: "e"}, 300, 301, 0, old) // old but within Serf's window of the clock
	b.add(userEventRecord{Name: "f", Payload: []byte("p")}, 300, 301, 0, old)
	b.add(userEventRecord{Name: "e"}, 20, 801, 0, recent) // late arrival: offered for repair
	got := b.batches(801, time.Unix(1500, 0))
	want := []*userEventBatch{
		{LTime: 20, Events: []userEventRecord{{Name: "e"}}},
		{LTime: 300, Events: []userEventRecord{{Name: "e"}, {Name: "f", Payload: []byte("p")}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batches = %+v, want %+v", got, want)
	}
	got[1].Events[0].Name = "changed"
	if b.batches(801, time.Unix(1500, 0))[1].Events[0].Name != "e" {
		t.Error("batches shares its slices with the buffer")
	}
}

func TestEventFanout(t *testing.T) {
	for members, want := range map[int]int{0: 3, 1: 3, 5: 4, 20: 5, 100: 7, 1000: 9} {
		if got := eventFanout(members); got != want {
			t.Errorf("eventFanout(%d) = %d; want %d", members, got, want)
		}
	}
}

func TestEventBufferMissing(t *testing.T) {
	var b eventBuffer
	at := time.Unix(0, 0)
	for _, lt := range []LamportTime{5, 6, 8} {
		b.add(userEventRecord{Name: "e"}, lt, 9, 0, at)
	}
	for _, c := range []struct {
		from, to LamportTime
		want     bool
	}{
		{5, 7, false}, // 5 and 6 arrived
		{5, 9, true},  // 7 did not
		{8, 9, false},
		{7, 7, false}, // empty range
		{9, 8, false},
		{1, 1 + eventWindow + 1, true}, // past the window: assume missing
	} {
		if got := b.missing(c.from, c.to); got != c.want {
			t.Errorf("missing(%d, %d) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
