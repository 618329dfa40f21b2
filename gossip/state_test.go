package gossip

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/agentd/agent/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func info(name string) nodeInfo {
	return nodeInfo{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Tags: map[string]string{"role": "web"}}
}

// table builds a table with the given members already alive.
func table(names ...string) *memberTable {
	t := newMemberTable("self", time.Minute)
	t.nodeJoined(info("self"), t0)
	for _, n := range names {
		t.nodeJoined(info(n), t0)
	}
	return t
}

// setStatus puts a member in a status the way the table's own
// transitions do, keeping the set of down members in step.
func setStatus(t *memberTable, name string, st events.MemberStatus, at time.Time) {
	ms := t.members[name]
	if st == events.StatusFailed || st == events.StatusLeft {
		t.markDown(name, ms, st, at)
		return
	}
	ms.member.Status, ms.leaveTime = st, time.Time{}
	delete(t.down, name)
}

func status(t *memberTable, name string) events.MemberStatus {
	if ms, ok := t.members[name]; ok {
		return ms.member.Status
	}
	return events.StatusNone
}

func eventTypes(evs []events.MemberEvent) []events.Type {
	var out []events.Type
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestNodeJoinedAppliesBufferedIntent(t *testing.T) {
	tests := []struct {
		name       string
		intent     func(*memberTable)
		wantStatus events.MemberStatus
		wantLTime  LamportTime
	}{
		{"no intent", func(*memberTable) {}, events.StatusAlive, 0},
		{"join intent", func(m *memberTable) { m.joinIntent(joinMessage{LTime: 7, Node: "a"}, t0) }, events.StatusAlive, 7},
		{"leave intent", func(m *memberTable) { m.leaveIntent(leaveMessage{LTime: 9, Node: "a"}, true, t0) }, events.StatusLeaving, 9},
		{"join then newer leave", func(m *memberTable) {
			m.joinIntent(joinMessage{LTime: 3, Node: "a"}, t0)
			m.leaveIntent(leaveMessage{LTime: 4, Node: "a"}, true, t0)
		}, events.StatusLeaving, 4},
		{"leave then newer join", func(m *memberTable) {
			m.leaveIntent(leaveMessage{LTime: 4, Node: "a"}, true, t0)
			m.joinIntent(joinMessage{LTime: 5, Node: "a"}, t0)
		}, events.StatusAlive, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := table()
			tt.intent(m)
			ev := m.nodeJoined(info("a"), t0)
			if ev.Type != events.MemberJoin || ev.Members[0].Name != "a" {
				t.Errorf("nodeJoined event = %v %v; want member-join of a", ev.Type, ev.Members)
			}
			if got := status(m, "a"); got != tt.wantStatus {
				t.Errorf("status = %s; want %s", got, tt.wantStatus)
			}
			if got := m.members["a"].statusLTime; got != tt.wantLTime {
				t.Errorf("statusLTime = %d; want %d", got, tt.wantLTime)
			}
			if len(m.intents) != 0 {
				t.Errorf("intents = %v; want none left once the node is known", m.intents)
			}
		})
	}
}

func TestNodeLeft(t *testing.T) {
	tests := []struct {
		name      string
		before    events.MemberStatus
		wantOK    bool
		wantType  events.Type
		wantAfter events.MemberStatus
	}{
		{"alive fails", events.StatusAlive, true, events.MemberFailed, events.StatusFailed},
		{"leaving leaves", events.StatusLeaving, true, events.MemberLeave, events.StatusLeft},
		{"left stays left", events.StatusLeft, false, 0, events.StatusLeft},
		{"failed stays failed", events.StatusFailed, false, 0, events.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := table("a")
			setStatus(m, "a", tt.before, t0)
			ev, ok := m.nodeLeft("a", t0)
			if ok != tt.wantOK || (ok && ev.Type != tt.wantType) {
				t.Errorf("nodeLeft = %v, %v; want %v, %v", ev.Type, ok, tt.wantType, tt.wantOK)
			}
			if got := status(m, "a"); got != tt.wantAfter {
				t.Errorf("status = %s; want %s", got, tt.wantAfter)
			}
		})
	}
	if _, ok := table().nodeLeft("ghost", t0); ok {
		t.Errorf("nodeLeft(unknown) = ok; want no change")
	}
}

func TestJoinIntent(t *testing.T) {
	m := table("a")
	m.members["a"].statusLTime = 5
	if m.joinIntent(joinMessage{LTime: 5, Node: "a"}, t0) {
		t.Errorf("joinIntent(same ltime) = true; want false (not new)")
	}
	if m.joinIntent(joinMessage{LTime: 4, Node: "a"}, t0) {
		t.Errorf("joinIntent(older) = true; want false")
	}
	setStatus(m, "a", events.StatusLeaving, t0)
	if !m.joinIntent(joinMessage{LTime: 6, Node: "a"}, t0) {
		t.Errorf("joinIntent(newer) = false; want true")
	}
	if got := status(m, "a"); got != events.StatusAlive {
		t.Errorf("status after newer join of leaving member = %s; want alive", got)
	}
	if !m.joinIntent(joinMessage{LTime: 1, Node: "b"}, t0) || m.joinIntent(joinMessage{LTime: 1, Node: "b"}, t0) {
		t.Errorf("intent about unknown node: want buffered once, then not new")
	}
}

func TestLeaveIntent(t *testing.T) {
	tests := []struct {
		name        string
		node        string
		before      events.MemberStatus
		msg         leaveMessage
		selfAlive   bool
		want        leaveOutcome
		wantEvents  []events.Type
		wantAfter   events.MemberStatus
		wantErasure bool
	}{
		{name: "alive goes leaving", node: "a", before: events.StatusAlive, msg: leaveMessage{LTime: 2, Node: "a"},
			want: leaveOutcome{rebroadcast: true}, wantAfter: events.StatusLeaving},
		{name: "stale intent ignored", node: "a", before: events.StatusAlive, msg: leaveMessage{LTime: 1, Node: "a"},
			wantAfter: events.StatusAlive},
		{name: "failed is forced to left", node: "a", before: events.StatusFailed, msg: leaveMessage{LTime: 2, Node: "a"},
			want: leaveOutcome{rebroadcast: true}, wantEvents: []events.Type{events.MemberLeave}, wantAfter: events.StatusLeft},
		{name: "failed with prune is reaped", node: "a", before: events.StatusFailed, msg: leaveMessage{LTime: 2, Node: "a", Prune: true},
			want: leaveOutcome{rebroadcast: true}, wantEvents: []events.Type{events.MemberLeave, events.MemberReap}, wantErasure: true},
		{name: "left with prune is reaped", node: "a", before: events.StatusLeft, msg: leaveMessage{LTime: 2, Node: "a", Prune: true},
			want: leaveOutcome{rebroadcast: true}, wantEvents: []events.Type{events.MemberReap}, wantErasure: true},
		{name: "alive with prune is pruned later", node: "a", before: events.StatusAlive, msg: leaveMessage{LTime: 2, Node: "a", Prune: true},
			want: leaveOutcome{rebroadcast: true, pruneLater: true}, wantAfter: events.StatusLeaving},
		{name: "about us while alive is refuted", node: "self", before: events.StatusAlive, msg: leaveMessage{LTime: 2, Node: "self"}, selfAlive: true,
			want: leaveOutcome{refute: true}, wantAfter: events.StatusAlive},
		{name: "about us while leaving is applied", node: "self", before: events.StatusAlive, msg: leaveMessage{LTime: 2, Node: "self"},
			want: leaveOutcome{rebroadcast: true}, wantAfter: events.StatusLeaving},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := table("a")
			setStatus(m, tt.node, tt.before, t0)
			m.members[tt.node].statusLTime = 1
			got := m.leaveIntent(tt.msg, tt.selfAlive, t0)
			if got.rebroadcast != tt.want.rebroadcast || got.refute != tt.want.refute || got.pruneLater != tt.want.pruneLater {
				t.Errorf("leaveIntent = %+v; want %+v", got, tt.want)
			}
			if gt := eventTypes(got.events); len(gt) != len(tt.wantEvents) || (len(gt) > 0 && !equalTypes(gt, tt.wantEvents)) {
				t.Errorf("events = %v; want %v", gt, tt.wantEvents)
			}
			_, present := m.members[tt.node]
			if present == tt.wantErasure {
				t.Errorf("member present = %v; want erased = %v", present, tt.wantErasure)
			}
			if present && status(m, tt.node) != tt.wantAfter {
				t.Errorf("status = %s; want %s", status(m, tt.node), tt.wantAfter)
			}
		})
	}
}

func equalTypes(a, b []events.Type) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReap(t *testing.T) {
	m := table("failed-old", "failed-new", "left-old", "left-new", "alive")
	set := func(name string, st events.MemberStatus, at time.Time) { setStatus(m, name, st, at) }
	set("failed-old", events.StatusFailed, t0)
	set("failed-new", events.StatusFailed, t0.Add(50*time.Minute))
	set("left-old", events.StatusLeft, t0)
	set("left-new", events.StatusLeft, t0.Add(50*time.Minute))
	m.upsertIntent("ghost-old", msgJoin, 1, t0)
	m.upsertIntent("ghost-new", msgJoin, 1, t0.Add(55*time.Minute))

	now := t0.Add(time.Hour)
	evs := m.reap(now, 30*time.Minute, 20*time.Minute, 10*time.Minute)
	var reaped []string
	for _, e := range evs {
		if e.Type != events.MemberReap {
			t.Errorf("reap event type = %s; want member-reap", e.Type)
		}
		reaped = append(reaped, e.Members[0].Name)
	}
	if len(reaped) != 2 || reaped[0] != "failed-old" || reaped[1] != "left-old" {
		t.Errorf("reap() reaped %v; want [failed-old left-old]", reaped)
	}
	for _, keep := range []string{"failed-new", "left-new", "alive", "self"} {
		if _, ok := m.members[keep]; !ok {
			t.Errorf("reap() removed %s; want kept", keep)
		}
	}
	if _, ok := m.intents["ghost-old"]; ok {
		t.Errorf("old intent kept; want expired")
	}
	if _, ok := m.intents["ghost-new"]; !ok {
		t.Errorf("new intent expired; want kept")
	}
}

func TestReconnectTarget(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := table("a", "b", "c")
	if _, ok := m.reconnectTarget(r); ok {
		t.Fatalf("reconnectTarget with no failed members = ok; want none")
	}
	// With every peer failed the probability is failed/alive = 3/1: always try.
	for _, n := range []string{"a", "b", "c"} {
		setStatus(m, n, events.StatusFailed, t0)
	}
	seen := map[string]bool{}
	for range 100 {
		target, ok := m.reconnectTarget(r)
		if !ok {
			t.Fatalf("reconnectTarget = none; want a try when most members failed")
		}
		seen[target.Name] = true
	}
	if len(seen) != 3 {
		t.Errorf("reconnectTarget picked %v over 100 tries; want all 3 failed members", seen)
	}
	// One failed out of many alive: throttled to about failed/alive of tries.
	m = table("a", "b", "c", "d", "e", "f", "g", "h", "i")
	setStatus(m, "a", events.StatusFailed, t0)
	tries := 0
	for range 1000 {
		if _, ok := m.reconnectTarget(r); ok {
			tries++
		}
	}
	if tries < 50 || tries > 200 { // expect 1/9 of 1000
		t.Errorf("reconnectTarget tried %d of 1000 times; want about 111", tries)
	}
}

func TestLocalState(t *testing.T) {
	m := table("a", "b")
	m.members["a"].statusLTime = 4
	setStatus(m, "b", events.StatusLeft, t0)
	m.members["b"].statusLTime = 6
	times, left := m.localState()
	if times["a"] != 4 || times["b"] != 6 || len(times) != 3 {
		t.Errorf("localState times = %v; want a:4 b:6 self:0", times)
	}
	if len(left) != 1 || left[0] != "b" {
		t.Errorf("localState left = %v; want [b]", left)
	}
}

func TestLamportClock(t *testing.T) {
	var c LamportClock
	if c.Time() != 0 || c.Increment() != 1 {
		t.Fatalf("fresh clock: Time=%d; want 0 then Increment 1", c.Time())
	}
	c.Witness(10)
	if got := c.Time(); got != 11 {
		t.Errorf("after Witness(10): Time() = %d; want 11", got)
	}
	c.Witness(5)
	if got := c.Time(); got != 11 {
		t.Errorf("after Witness(5): Time() = %d; want 11 (never goes back)", got)
	}
}

// TestDownSetFollowsStatus drives a table through random transitions and
// checks after each that the down set holds exactly the failed and left
// members: reap and reconnect look nowhere else.
func TestDownSetFollowsStatus(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	names := []string{"a", "b", "c", "d", "e"}
	m := table()
	now := t0
	var ltime LamportTime
	for step := range 5000 {
		now = now.Add(time.Duration(r.IntN(90)) * time.Second)
		ltime += LamportTime(r.IntN(2))
		name := names[r.IntN(len(names))]
		switch r.IntN(7) {
		case 0, 1:
			m.nodeJoined(info(name), now)
		case 2:
			m.nodeLeft(name, now)
		case 3:
			m.joinIntent(joinMessage{LTime: ltime, Node: name}, now)
		case 4:
			m.leaveIntent(leaveMessage{LTime: ltime, Node: name, Prune: r.IntN(3) == 0}, true, now)
		case 5:
			m.reap(now, 5*time.Minute, 3*time.Minute, time.Minute)
		case 6:
			m.pruneIfGone(name)
		}
		want := 0
		for n, ms := range m.members {
			isDown := ms.member.Status == events.StatusFailed || ms.member.Status == events.StatusLeft
			if got, ok := m.down[n]; ok != isDown || (ok && got != ms) {
				t.Fatalf("step %d: %s is %s, in the down set: %v; want %v", step, n, ms.member.Status, ok, isDown)
			}
			if isDown {
				want++
			}
		}
		if len(m.down) != want {
			t.Fatalf("step %d: down set holds %d members; want %d (a reaped member stayed)", step, len(m.down), want)
		}
	}
}
