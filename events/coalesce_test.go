package events

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mem returns a minimal alive member called name.
func mem(name string) Member { return Member{Name: name, Status: StatusAlive} }

// ev returns a member event of type t for the named members.
func ev(t Type, names ...string) MemberEvent {
	e := MemberEvent{Type: t}
	for _, n := range names {
		e.Members = append(e.Members, mem(n))
	}
	return e
}

// describe renders events compactly for failure messages:
// "member-join[a b:7] member-leave[c]" (":7" is a non-zero port).
func describe(evs []MemberEvent) string {
	if evs == nil {
		return "nil"
	}
	parts := make([]string, 0, len(evs))
	for _, e := range evs {
		names := make([]string, 0, len(e.Members))
		for _, m := range e.Members {
			s := m.Name
			if m.Port != 0 {
				s += fmt.Sprintf(":%d", m.Port)
			}
			names = append(names, s)
		}
		parts = append(parts, fmt.Sprintf("%s[%s]", e.Type, strings.Join(names, " ")))
	}
	return strings.Join(parts, " ")
}

func TestMemberCoalescer(t *testing.T) {
	tests := []struct {
		name string
		// batches are added in order; Flush runs after each batch.
		batches [][]MemberEvent
		// want holds the result of each Flush.
		want [][]MemberEvent
	}{
		{
			name:    "nothing pending",
			batches: [][]MemberEvent{nil},
			want:    [][]MemberEvent{nil},
		},
		{
			name:    "join then leave keeps only the leave",
			batches: [][]MemberEvent{{ev(MemberJoin, "a"), ev(MemberLeave, "a")}},
			want:    [][]MemberEvent{{ev(MemberLeave, "a")}},
		},
		{
			name:    "join then update keeps only the update",
			batches: [][]MemberEvent{{ev(MemberJoin, "a"), ev(MemberUpdate, "a")}},
			want:    [][]MemberEvent{{ev(MemberUpdate, "a")}},
		},
		{
			name:    "update is emitted on every flush",
			batches: [][]MemberEvent{{ev(MemberUpdate, "a")}, {ev(MemberUpdate, "a")}, {ev(MemberUpdate, "a")}},
			want:    [][]MemberEvent{{ev(MemberUpdate, "a")}, {ev(MemberUpdate, "a")}, {ev(MemberUpdate, "a")}},
		},
		{
			name:    "same type as last flushed is suppressed",
			batches: [][]MemberEvent{{ev(MemberJoin, "a")}, {ev(MemberJoin, "a")}},
			want:    [][]MemberEvent{{ev(MemberJoin, "a")}, nil},
		},
		{
			name:    "suppression is per member",
			batches: [][]MemberEvent{{ev(MemberFailed, "a")}, {ev(MemberFailed, "a", "b")}},
			want:    [][]MemberEvent{{ev(MemberFailed, "a")}, {ev(MemberFailed, "b")}},
		},
		{
			name:    "flapping inside one batch back to the flushed type is suppressed",
			batches: [][]MemberEvent{{ev(MemberJoin, "a")}, {ev(MemberFailed, "a"), ev(MemberJoin, "a")}},
			want:    [][]MemberEvent{{ev(MemberJoin, "a")}, nil},
		},
		{
			name:    "changes across flushes are all emitted",
			batches: [][]MemberEvent{{ev(MemberJoin, "a")}, {ev(MemberLeave, "a")}, {ev(MemberJoin, "a")}},
			want:    [][]MemberEvent{{ev(MemberJoin, "a")}, {ev(MemberLeave, "a")}, {ev(MemberJoin, "a")}},
		},
		{
			name:    "failed then reap",
			batches: [][]MemberEvent{{ev(MemberFailed, "a")}, {ev(MemberReap, "a")}},
			want:    [][]MemberEvent{{ev(MemberFailed, "a")}, {ev(MemberReap, "a")}},
		},
		{
			name:    "reap forgets the member",
			batches: [][]MemberEvent{{ev(MemberReap, "a")}, {ev(MemberReap, "a")}, {ev(MemberJoin, "a")}},
			want:    [][]MemberEvent{{ev(MemberReap, "a")}, {ev(MemberReap, "a")}, {ev(MemberJoin, "a")}},
		},
		{
			name: "mixed members give one event per type in type order, names sorted",
			batches: [][]MemberEvent{{
				ev(MemberReap, "f"),
				ev(MemberJoin, "c", "a"),
				ev(MemberUpdate, "e"),
				ev(MemberLeave, "b"),
				ev(MemberFailed, "d"),
				ev(MemberJoin, "b"),
			}},
			want: [][]MemberEvent{{
				ev(MemberJoin, "a", "b", "c"),
				ev(MemberFailed, "d"),
				ev(MemberUpdate, "e"),
				ev(MemberReap, "f"),
			}},
		},
		{
			name: "latest member record wins, also within one event",
			batches: [][]MemberEvent{{
				{Type: MemberJoin, Members: []Member{{Name: "a", Port: 1}}},
				{Type: MemberUpdate, Members: []Member{{Name: "a", Port: 2}, {Name: "a", Port: 3}}},
			}},
			want: [][]MemberEvent{{{Type: MemberUpdate, Members: []Member{{Name: "a", Port: 3}}}}},
		},
		{
			name:    "event without members",
			batches: [][]MemberEvent{{{Type: MemberJoin}}},
			want:    [][]MemberEvent{nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c MemberCoalescer
			for i, batch := range tt.batches {
				for _, e := range batch {
					if !c.Add(e) {
						t.Fatalf("Add(%s) = false; want true", describe([]MemberEvent{e}))
					}
				}
				if got := c.Flush(); !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("Flush() #%d = %s; want %s", i, describe(got), describe(tt.want[i]))
				}
				if got := c.Pending(); got != 0 {
					t.Errorf("Pending() after Flush #%d = %d; want 0", i, got)
				}
			}
		})
		// The property test trusts refCoalescer; hold it to the same table.
		t.Run(tt.name+"/reference", func(t *testing.T) {
			var r refCoalescer
			for i, batch := range tt.batches {
				for _, e := range batch {
					r.add(e)
				}
				if got := r.flush(); !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("refCoalescer.flush() #%d = %s; want %s", i, describe(got), describe(tt.want[i]))
				}
			}
		})
	}
}

func TestMemberCoalescerPending(t *testing.T) {
	var c MemberCoalescer
	steps := []struct {
		add  MemberEvent
		want int
	}{
		{ev(MemberJoin, "a"), 1},
		{ev(MemberLeave, "a"), 1},
		{ev(MemberJoin, "b", "c"), 3},
		{ev(MemberUpdate, "c", "d"), 4},
	}
	for _, s := range steps {
		c.Add(s.add)
		if got := c.Pending(); got != s.want {
			t.Errorf("Pending() after Add(%s) = %d; want %d", describe([]MemberEvent{s.add}), got, s.want)
		}
	}
}

func TestMemberCoalescerRejectsOtherTypes(t *testing.T) {
	for _, typ := range []Type{User, Query, Type(-1), Type(99)} {
		var c MemberCoalescer
		if c.Add(ev(typ, "a")) {
			t.Errorf("Add(%v event) = true; want false", typ)
		}
		if got := c.Pending(); got != 0 {
			t.Errorf("Pending() after Add(%v event) = %d; want 0", typ, got)
		}
		if got := c.Flush(); got != nil {
			t.Errorf("Flush() after Add(%v event) = %s; want nil", typ, describe(got))
		}
	}
}

func TestMemberCoalescerFlushOwnsResult(t *testing.T) {
	var c MemberCoalescer
	c.Add(ev(MemberJoin, "a", "b"))
	first := c.Flush()
	c.Add(ev(MemberLeave, "c", "d"))
	c.Flush()
	if want := []MemberEvent{ev(MemberJoin, "a", "b")}; !reflect.DeepEqual(first, want) {
		t.Errorf("first Flush() after a second Flush = %s; want %s", describe(first), describe(want))
	}
}

func TestMemberEventClone(t *testing.T) {
	orig := MemberEvent{Type: MemberUpdate, Members: []Member{
		{Name: "a", Addr: []byte{10, 0, 0, 1}, Tags: map[string]string{"role": "web"}},
	}}
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("Clone() = %+v; want %+v", c, orig)
	}
	c.Members[0].Name = "b"
	c.Members[0].Addr[3] = 9
	c.Members[0].Tags["role"] = "db"
	if m := orig.Members[0]; m.Name != "a" || m.Addr[3] != 1 || m.Tags["role"] != "web" {
		t.Errorf("original after mutating Clone() = %+v; want unchanged", m)
	}
	if got := (MemberEvent{Type: MemberJoin}).Clone(); got.Members != nil {
		t.Errorf("Clone() of nil members = %+v; want nil members", got.Members)
	}
}

// refCoalescer is a deliberately naive model of MemberCoalescer: it logs
// every addition and works out the result from scratch on each flush.
type refCoalescer struct {
	log     []pendingMember
	emitted map[string]Type
}

func (r *refCoalescer) add(e MemberEvent) bool {
	if e.Type < MemberJoin || e.Type > MemberReap {
		return false
	}
	for _, m := range e.Members {
		r.log = append(r.log, pendingMember{typ: e.Type, member: m})
	}
	return true
}

func (r *refCoalescer) pending() int {
	var names []string
	for _, p := range r.log {
		if !slices.Contains(names, p.member.Name) {
			names = append(names, p.member.Name)
		}
	}
	return len(names)
}

func (r *refCoalescer) flush() []MemberEvent {
	if r.emitted == nil {
		r.emitted = map[string]Type{}
	}
	// The last log entry for a name is its latest event.
	latest := map[string]pendingMember{}
	var names []string
	for _, p := range r.log {
		if _, ok := latest[p.member.Name]; !ok {
			names = append(names, p.member.Name)
		}
		latest[p.member.Name] = p
	}
	r.log = nil
	slices.Sort(names)

	var out []MemberEvent
	for typ := MemberJoin; typ <= MemberReap; typ++ {
		var members []Member
		for _, n := range names {
			p := latest[n]
			if p.typ != typ {
				continue
			}
			if last, ok := r.emitted[n]; ok && last == typ && typ != MemberUpdate {
				continue
			}
			members = append(members, p.member)
		}
		if members != nil {
			out = append(out, MemberEvent{Type: typ, Members: members})
		}
	}
	for _, e := range out {
		for _, m := range e.Members {
			r.emitted[m.Name] = e.Type
			if e.Type == MemberReap {
				delete(r.emitted, m.Name)
			}
		}
	}
	return out
}

// checkAgainstReference interprets ops as a sequence of Add and Flush calls,
// runs it on a MemberCoalescer and on refCoalescer, and reports the first
// difference. Byte b means: b%7 == 0 flush; otherwise add an event of type
// (b/7)%6 (5 is User, which Add must reject) with 1+(b/42)%3 members, whose
// names and ports come from the following bytes.
func checkAgainstReference(ops []byte) error {
	names := []string{"a", "b", "c", "d", "e"}
	var c MemberCoalescer
	var r refCoalescer
	var trace []string
	for i := 0; i < len(ops); i++ {
		b := ops[i]
		if b%7 == 0 {
			got, want := c.Flush(), r.flush()
			trace = append(trace, "flush")
			if !reflect.DeepEqual(got, want) {
				return fmt.Errorf("after %s: Flush() = %s; want %s", strings.Join(trace, ", "), describe(got), describe(want))
			}
			continue
		}
		typ := Type(int(b/7) % 6)
		if typ == 5 {
			typ = User
		}
		e := MemberEvent{Type: typ}
		for n := 1 + int(b/42)%3; n > 0 && i+1 < len(ops); n-- {
			i++
			e.Members = append(e.Members, Member{Name: names[int(ops[i])%len(names)], Port: uint16(ops[i])})
		}
		trace = append(trace, describe([]MemberEvent{e}))
		if got, want := c.Add(e), r.add(e); got != want {
			return fmt.Errorf("after %s: Add() = %v; want %v", strings.Join(trace, ", "), got, want)
		}
		if got, want := c.Pending(), r.pending(); got != want {
			return fmt.Errorf("after %s: Pending() = %d; want %d", strings.Join(trace, ", "), got, want)
		}
	}
	trace = append(trace, "flush")
	if got, want := c.Flush(), r.flush(); !reflect.DeepEqual(got, want) {
		return fmt.Errorf("after %s: Flush() = %s; want %s", strings.Join(trace, ", "), describe(got), describe(want))
	}
	return nil
}

func TestMemberCoalescerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 5000 {
		ops := make([]byte, rng.IntN(60))
		for i := range ops {
			ops[i] = byte(rng.UintN(256))
		}
		if err := checkAgainstReference(ops); err != nil {
			t.Fatalf("iteration %d, ops %v: %v", iter, ops, err)
		}
	}
}

func FuzzMemberCoalescer(f *testing.F) {
	f.Add([]byte{1, 0, 0, 1, 0, 0})             // join a, flush, join a, flush
	f.Add([]byte{1, 0, 8, 0, 0})                // join a, leave a, flush
	f.Add([]byte{22, 1, 0, 22, 1, 0})           // update b, flush, update b, flush
	f.Add([]byte{29, 2, 0, 29, 2, 0, 1, 2})     // reap c twice, then join c
	f.Add([]byte{43, 0, 1, 50, 2, 3, 36, 4, 0}) // two-member join and leave, user event
	f.Fuzz(func(t *testing.T, ops []byte) {
		if err := checkAgainstReference(ops); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkMemberCoalescer(b *testing.B) {
	types := []Type{MemberJoin, MemberUpdate, MemberFailed, MemberLeave, MemberUpdate, MemberReap}
	evs := make([]MemberEvent, 1000)
	for i := range evs {
		evs[i] = MemberEvent{
			Type:    types[i%len(types)],
			Members: []Member{{Name: fmt.Sprintf("node-%03d", i%100), Status: StatusAlive}},
		}
	}
	var c MemberCoalescer
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range evs {
			c.Add(e)
		}
		c.Flush()
	}
}
