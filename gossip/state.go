package gossip

import (
	"math/rand/v2"
	"net"
	"sort"
	"time"

	"github.com/agentd/agent/events"
)

// memberState is what the table knows about one member.
type memberState struct {
	member events.Member
	// statusLTime is the member-clock time of the last intent applied.
	statusLTime LamportTime
	// leaveTime is when the member became failed or left; zero otherwise.
	leaveTime time.Time
}

// intent is a join or leave intent about a node memberlist has not reported
// yet, kept until the node appears or the intent expires.
type intent struct {
	kind  messageType // msgJoin or msgLeave
	ltime LamportTime
	seen  time.Time
}

// nodeInfo is what memberlist tells us about a node, already decoded.
type nodeInfo struct {
	Name string
	Addr net.IP
	Port uint16
	Tags map[string]string
	// Protocol versions: memberlist's (P*) and ours (D*).
	PMin, PMax, PCur, DMin, DMax, DCur uint8
}

// memberTable holds Serf's membership rules as a plain state machine: every
// method takes the current time, mutates the table and returns what the
// caller must do (events to emit, whether to rebroadcast). It does no I/O and
// is not safe for concurrent use; Node serializes access.
type memberTable struct {
	self    string
	members map[string]*memberState
	// down holds the failed and left entries of members: the only ones
	// reap and reconnect look at, so that their periodic runs do not walk
	// every member of a large, healthy cluster.
	down    map[string]*memberState
	intents map[string]intent
	// flapWindow: a failed member coming back within it counts as a flap.
	flapWindow time.Duration
	flaps      int
}

func newMemberTable(self string, flapWindow time.Duration) *memberTable {
	return &memberTable{
		self:       self,
		members:    make(map[string]*memberState),
		down:       make(map[string]*memberState),
		intents:    make(map[string]intent),
		flapWindow: flapWindow,
	}
}

func memberEvent(t events.Type, m events.Member) events.MemberEvent {
	return events.MemberEvent{Type: t, Members: []events.Member{m.Clone()}}
}

func (n nodeInfo) apply(m *events.Member) {
	m.Addr = n.Addr
	m.Port = n.Port
	m.Tags = n.Tags
	m.ProtocolMin, m.ProtocolMax, m.ProtocolCur = n.PMin, n.PMax, n.PCur
	m.DelegateMin, m.DelegateMax, m.DelegateCur = n.DMin, n.DMax, n.DCur
}

// nodeJoined applies memberlist's report that a node is alive.
func (t *memberTable) nodeJoined(n nodeInfo, now time.Time) events.MemberEvent {
	ms, ok := t.members[n.Name]
	if !ok {
		ms = &memberState{member: events.Member{Name: n.Name, Status: events.StatusAlive}}
		// An intent that arrived before memberlist told us about the node.
		if in, ok := t.intents[n.Name]; ok {
			ms.statusLTime = in.ltime
			if in.kind == msgLeave {
				ms.member.Status = events.StatusLeaving
			}
			delete(t.intents, n.Name)
		}
		t.members[n.Name] = ms
	} else {
		if ms.member.Status == events.StatusFailed && now.Sub(ms.leaveTime) < t.flapWindow {
			t.flaps++
		}
		ms.member.Status = events.StatusAlive
		ms.leaveTime = time.Time{}
		delete(t.down, n.Name)
	}
	n.apply(&ms.member)
	return memberEvent(events.MemberJoin, ms.member)
}

// nodeLeft applies memberlist's report that a node is gone: a leaving node
// has left, an alive one has failed. ok is false when nothing changed.
func (t *memberTable) nodeLeft(name string, now time.Time) (ev events.MemberEvent, ok bool) {
	ms, found := t.members[name]
	if !found {
		return ev, false
	}
	switch ms.member.Status {
	case events.StatusLeaving:
		t.markDown(name, ms, events.StatusLeft, now)
		return memberEvent(events.MemberLeave, ms.member), true
	case events.StatusAlive:
		t.markDown(name, ms, events.StatusFailed, now)
		return memberEvent(events.MemberFailed, ms.member), true
	default:
		return ev, false
	}
}

// nodeUpdated applies memberlist's report that a node's meta or address changed.
func (t *memberTable) nodeUpdated(n nodeInfo) (ev events.MemberEvent, ok bool) {
	ms, found := t.members[n.Name]
	if !found {
		return ev, false
	}
	n.apply(&ms.member)
	return memberEvent(events.MemberUpdate, ms.member), true
}

// joinIntent applies a join intent and reports whether it was new (and so
// must be rebroadcast).
func (t *memberTable) joinIntent(msg joinMessage, now time.Time) bool {
	ms, ok := t.members[msg.Node]
	if !ok {
		return t.upsertIntent(msg.Node, msgJoin, msg.LTime, now)
	}
	if msg.LTime <= ms.statusLTime {
		return false
	}
	ms.statusLTime = msg.LTime
	if ms.member.Status == events.StatusLeaving {
		ms.member.Status = events.StatusAlive
	}
	return true
}

// leaveOutcome is what the caller must do after a leave intent.
type leaveOutcome struct {
	rebroadcast bool
	// refute: the intent is about us while we are alive; answer with a
	// fresh join intent.
	refute bool
	// event is a member-leave (forced) or member-reap to emit, if any.
	events []events.MemberEvent
	// pruneLater: the member is still leaving; erase it once its leave has
	// had time to spread.
	pruneLater bool
}

// leaveIntent applies a leave intent. selfAlive tells whether the local node
// is alive (not leaving or shut down), in which case an intent about itself
// is refuted rather than applied.
func (t *memberTable) leaveIntent(msg leaveMessage, selfAlive bool, now time.Time) leaveOutcome {
	var out leaveOutcome
	ms, ok := t.members[msg.Node]
	if !ok {
		out.rebroadcast = t.upsertIntent(msg.Node, msgLeave, msg.LTime, now)
		return out
	}
	if msg.LTime <= ms.statusLTime {
		return out
	}
	if msg.Node == t.self && selfAlive {
		out.refute = true
		return out
	}
	ms.statusLTime = msg.LTime
	switch ms.member.Status {
	case events.StatusAlive:
		ms.member.Status = events.StatusLeaving
	case events.StatusFailed:
		// Force-leave of a failed node.
		t.markDown(msg.Node, ms, events.StatusLeft, now)
		out.events = append(out.events, memberEvent(events.MemberLeave, ms.member))
	case events.StatusLeaving, events.StatusLeft:
	default:
		return out
	}
	out.rebroadcast = true
	if msg.Prune {
		if ms.member.Status == events.StatusLeaving {
			out.pruneLater = true
		} else {
			out.events = append(out.events, t.erase(msg.Node))
		}
	}
	return out
}

// markDown records that a member failed or left at now.
func (t *memberTable) markDown(name string, ms *memberState, status events.MemberStatus, now time.Time) {
	ms.member.Status = status
	ms.leaveTime = now
	t.down[name] = ms
}

// erase removes a member at once and returns its member-reap event.
func (t *memberTable) erase(name string) events.MemberEvent {
	ms := t.members[name]
	delete(t.members, name)
	delete(t.down, name)
	return memberEvent(events.MemberReap, ms.member)
}

// pruneIfGone erases a member marked for pruning, if it is still leaving or
// left (it may have rejoined meanwhile).
func (t *memberTable) pruneIfGone(name string) (events.MemberEvent, bool) {
	ms, ok := t.members[name]
	if !ok || name == t.self {
		return events.MemberEvent{}, false
	}
	if ms.member.Status != events.StatusLeaving && ms.member.Status != events.StatusLeft {
		return events.MemberEvent{}, false
	}
	return t.erase(name), true
}

func (t *memberTable) upsertIntent(node string, kind messageType, ltime LamportTime, now time.Time) bool {
	if in, ok := t.intents[node]; ok && ltime <= in.ltime {
		return false
	}
	t.intents[node] = intent{kind: kind, ltime: ltime, seen: now}
	return true
}

// reap erases failed members older than reconnectTimeout and left members
// older than tombstoneTimeout, and forgets intents older than intentTimeout.
// It runs every few seconds on every member, so it sorts only what it
// erases.
func (t *memberTable) reap(now time.Time, reconnectTimeout, tombstoneTimeout, intentTimeout time.Duration) []events.MemberEvent {
	var gone []string
	for name, ms := range t.down {
		var timeout time.Duration
		switch ms.member.Status {
		case events.StatusFailed:
			timeout = reconnectTimeout
		case events.StatusLeft:
			timeout = tombstoneTimeout
		default:
			continue
		}
		if now.Sub(ms.leaveTime) > timeout {
			gone = append(gone, name)
		}
	}
	var out []events.MemberEvent
	sort.Strings(gone)
	for _, name := range gone {
		out = append(out, t.erase(name))
	}
	for node, in := range t.intents {
		if now.Sub(in.seen) > intentTimeout {
			delete(t.intents, node)
		}
	}
	return out
}

// reconnectTarget picks a failed member to try to reach again, throttled as
// Serf does: the more failed members relative to alive ones, the likelier a
// try, so a small number of failures does not cause a storm of joins.
func (t *memberTable) reconnectTarget(r *rand.Rand) (events.Member, bool) {
	var failed []string
	for name, ms := range t.down {
		if ms.member.Status == events.StatusFailed {
			failed = append(failed, name)
		}
	}
	// Every member that is not down is alive or leaving.
	alive := len(t.members) - len(t.down)
	if len(failed) == 0 {
		return events.Member{}, false
	}
	if alive == 0 {
		alive = 1
	}
	if r.Float64() > float64(len(failed))/float64(alive) {
		return events.Member{}, false
	}
	sort.Strings(failed) // the same seed picks the same member
	return t.members[failed[r.IntN(len(failed))]].member.Clone(), true
}

// randomAlivePeers returns up to k alive members other than ourselves,
// chosen at random.
func (t *memberTable) randomAlivePeers(r *rand.Rand, k int) []events.Member {
	var alive []events.Member
	for _, name := range t.sortedNames() {
		ms := t.members[name]
		if name != t.self && ms.member.Status == events.StatusAlive {
			alive = append(alive, ms.member)
		}
	}
	r.Shuffle(len(alive), func(i, j int) { alive[i], alive[j] = alive[j], alive[i] })
	if len(alive) > k {
		alive = alive[:k]
	}
	return alive
}

// localState is our side of a push/pull exchange.
func (t *memberTable) localState() (statusLTimes map[string]LamportTime, left []string) {
	statusLTimes = make(map[string]LamportTime, len(t.members))
	for name, ms := range t.members {
		statusLTimes[name] = ms.statusLTime
		if ms.member.Status == events.StatusLeft {
			left = append(left, name)
		}
	}
	sort.Strings(left)
	return statusLTimes, left
}

// snapshot returns copies of all members, sorted by name.
func (t *memberTable) snapshot() []events.Member {
	out := make([]events.Member, 0, len(t.members))
	for _, name := range t.sortedNames() {
		out = append(out, t.members[name].member.Clone())
	}
	return out
}

func (t *memberTable) sortedNames() []string {
	names := make([]string, 0, len(t.members))
	for name := range t.members {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// hasAlivePeers reports whether any member other than ourselves is alive.
func (t *memberTable) hasAlivePeers() bool {
	for name, ms := range t.members {
		if name != t.self && ms.member.Status == events.StatusAlive {
			return true
		}
	}
	return false
}

// counts returns how many members are in each status.
func (t *memberTable) counts() map[events.MemberStatus]int {
	c := make(map[events.MemberStatus]int, 5)
	for _, ms := range t.members {
		c[ms.member.Status]++
	}
	return c
}
