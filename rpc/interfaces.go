package rpc

import (
	"context"
	"log/slog"

	"github.com/agentd/agent/events"
)

// Cluster is the cluster as the local node sees it. The server calls its
// methods from the goroutine of the connection whose command needs them,
// so several calls may run at once: implementations must be safe for
// concurrent use.
type Cluster interface {
	// Members returns every known member in any status. The server only
	// reads the result; the caller must not mutate it afterwards.
	Members() []events.Member
	// Join contacts each address ("host:port") and returns how many
	// answered. With replay, user events from before the join are
	// delivered too. The error, if any, is sent to the client as text
	// together with the count. Join returns early when ctx ends (the
	// server's context ends at Shutdown).
	Join(ctx context.Context, addrs []string, replay bool) (int, error)
	// ForceLeave moves the named failed member to left; with prune it is
	// erased at once. The error is sent to the client as text.
	ForceLeave(ctx context.Context, node string, prune bool) error
	// UserEvent fires a user event to every member. The error (the event
	// too large, the agent leaving) is sent to the client as text.
	UserEvent(name string, payload []byte, coalesce bool) error
	// Query asks the cluster. Acks and responses arrive on answers, which
	// is closed when the query ends (at its timeout, or once every node
	// that matched has answered); cancel ends it early and must be safe to
	// call more than once. The error (a bad filter, the query too large)
	// is sent to the client as text.
	Query(name string, payload []byte, p QueryParams) (answers <-chan QueryAnswer, cancel func(), err error)
	// ModifyKeys runs a keyring operation ("install-key", "use-key",
	// "remove-key" or "list-keys") on every member and gathers the
	// answers; key is base64 (unused by list-keys). The result goes to
	// the client even with an error (which says how many members failed).
	ModifyKeys(ctx context.Context, op, key string) (KeyResult, error)
	// Coordinate returns the network coordinate last known for a member
	// (the local node's own included); false when there is none, or
	// coordinates are disabled.
	Coordinate(node string) (Coordinate, bool)
}

// Coordinate is a Vivaldi network coordinate, as Serf sends it.
type Coordinate struct {
	Vec                       []float64
	Error, Adjustment, Height float64
}

// KeyResult is what the members answered to a keyring operation.
type KeyResult struct {
	// Messages holds, per node, why the operation failed there or a notice.
	Messages map[string]string
	// Keys counts, per base64 key, the nodes that hold it (list-keys).
	Keys map[string]int
	// NumNodes members were asked; NumResp answered; NumErr failed.
	NumNodes, NumErr, NumResp int
}

// LocalAgent is the local node's own controls. Implementations must be safe
// for concurrent use.
type LocalAgent interface {
	// Leave leaves the cluster gracefully. It must not shut the agent down:
	// the server answers the client first and then closes the channel
	// returned by [Server.ExitRequested], on which the daemon shuts down.
	Leave(ctx context.Context) error
	// UpdateTags replaces the local node's tags with its current tags
	// minus the keys in remove, plus set (set wins over remove), as one
	// change. Either argument may be empty. The maps and slices belong to
	// the callee once passed.
	UpdateTags(ctx context.Context, set map[string]string, remove []string) error
	// Stats returns debugging figures by section ("agent", "serf",
	// "runtime", "tags", ...), sent to the client as is.
	Stats() map[string]map[string]string
}

// EventSource delivers the agent's events to stream subscribers.
type EventSource interface {
	// Subscribe starts delivering every event from now on, in order, to
	// the returned channel, until cancel is called. The server reads the
	// channel promptly (it never waits on the network while doing so), so
	// the source may send with a blocking send; it must not close the
	// channel. cancel must be safe to call while a send is pending and must
	// not wait for the channel to be read; after cancel returns, the source
	// sends nothing more. Delivered events must not be mutated afterwards.
	Subscribe() (ch <-chan events.Event, cancel func())
}

// LogSource delivers the agent's log lines to monitors.
type LogSource interface {
	// SubscribeLogs returns the recently buffered lines at level min or
	// above, oldest first, and a channel that from then on receives each
	// new line at level min or above, with no line lost or repeated
	// between the two. The channel contract is EventSource.Subscribe's:
	// the server reads promptly, the source must not close it, cancel must
	// not wait for a pending send, and nothing is sent once cancel returns.
	// Lines carry no trailing newline.
	SubscribeLogs(min slog.Level) (recent []string, live <-chan string, cancel func())
}
