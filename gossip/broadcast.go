package gossip

import "github.com/hashicorp/memberlist"

// broadcast is one gossip message in a memberlist TransmitLimitedQueue.
// Intents are named after the node they concern, so a newer intent about a
// node replaces an older one still waiting in the queue (receivers would
// ignore the older one anyway); other messages are unique.
type broadcast struct {
	msg    []byte
	name   string
	notify chan<- struct{}
}

var (
	_ memberlist.NamedBroadcast  = (*namedBroadcast)(nil)
	_ memberlist.UniqueBroadcast = (*uniqueBroadcast)(nil)
)

// namedBroadcast replaces queued broadcasts with the same name.
type namedBroadcast struct{ broadcast }

// uniqueBroadcast is never replaced.
type uniqueBroadcast struct{ broadcast }

func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *broadcast) Message() []byte                       { return b.msg }
func (b *broadcast) Finished() {
	if b.notify != nil {
		close(b.notify)
	}
}
func (b *namedBroadcast) Name() string      { return b.name }
func (b *uniqueBroadcast) UniqueBroadcast() {}

// newBroadcast wraps msg; a non-empty name makes it a named broadcast.
func newBroadcast(msg []byte, name string, notify chan<- struct{}) memberlist.Broadcast {
	b := broadcast{msg: msg, name: name, notify: notify}
	if name != "" {
		return &namedBroadcast{b}
	}
	return &uniqueBroadcast{b}
}

// intentName is the broadcast name of intents about node.
func intentName(node string) string { return "intent:" + node }
