package gossip

import (
	"reflect"
	"testing"
)

func TestEventBufferAdd(t *testing.T) {
	ev := func(name, payload string) userEventRecord {
		return userEventRecord{Name: name, Payload: []byte(payload)}
	}
	type add struct {
		e            userEventRecord
		lt, now, min LamportTime
		want         bool
	}
	tests := []struct {
		name string
		adds []add
	}{
		{"new then duplicate", []add{
			{ev("deploy", "v1"), 5, 6, 0, true},
			{ev("deploy", "v1"), 5, 9, 0, false},
		}},
		{"same time, other payload or name", []add{
			{ev("deploy", "v1"), 5, 6, 0, true},
			{ev("deploy", "v2"), 5, 6, 0, true},
			{ev("restart", "v1"), 5, 6, 0, true},
			{ev("deploy", "v2"), 5, 6, 0, false},
		}},
		{"nil and empty payloads are the same", []add{
			{userEventRecord{Name: "x"}, 3, 4, 0, true},
			{userEventRecord{Name: "x", Payload: []byte{}}, 3, 4, 0, false},
		}},
		{"older than the window", []add{
			{ev("a", ""), 100, 613, 0, false},
			{ev("a", ""), 101, 613, 0, true},
		}},
		{"before the join", []add{
			{ev("a", ""), 9, 20, 10, false},
			{ev("a", ""), 10, 20, 10, true},
		}},
		{"a slot reused by a later time forgets the old one", []add{
			{ev("a", ""), 3, 4, 0, true},
			{ev("a", ""), 3 + eventBufferLen, 4 + eventBufferLen, 0, true},
			{ev("a", ""), 3 + eventBufferLen, 4 + eventBufferLen, 0, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b eventBuffer
			for i, a := range tt.adds {
				if got := b.add(a.e, a.lt, a.now, a.min); got != a.want {
					t.Errorf("add %d (%s at %d, clock %d, min %d) = %v, want %v", i, a.e.Name, a.lt, a.now, a.min, got, a.want)
				}
			}
		})
	}
}

func TestEventBufferBatches(t *testing.T) {
	var b eventBuffer
	for _, lt := range []LamportTime{700, 5, 300} {
		b.add(userEventRecord{Name: "e"}, lt, 701, 0)
	}
	b.add(userEventRecord{Name: "f", Payload: []byte("p")}, 300, 701, 0)
	got := b.batches()
	want := []*userEventBatch{
		{LTime: 300, Events: []userEventRecord{{Name: "e"}, {Name: "f", Payload: []byte("p")}}},
		{LTime: 700, Events: []userEventRecord{{Name: "e"}}},
	}
	// 5 was refused: 701 - 512 = 189 is the oldest time kept.
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batches = %+v, want %+v", got, want)
	}
	got[0].Events[0].Name = "changed"
	if b.batches()[0].Events[0].Name != "e" {
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
