package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/agentd/agent/events"
)

// Every method returns the agent's errors as *RemoteError (matching the
// package sentinels with errors.Is) and transport errors wrapped with the
// command name; a lost connection wraps ErrClientClosed.

// MemberFilter selects members for MembersFiltered. Every pattern is a
// regular expression anchored at both ends ("web" does not match
// "webserver" on our agent; a Serf agent anchors "a|b" less strictly).
type MemberFilter struct {
	// Tags maps a tag name to a pattern for its value; a member without
	// the tag has the value "".
	Tags map[string]string
	// Status is a pattern for the status name ("alive|failed"); "" matches
	// every status.
	Status string
	// Name is a pattern for the member name; "" matches every name.
	Name string
}

// Members returns every member the agent knows, in any status.
func (c *Client) Members(ctx context.Context) ([]events.Member, error) {
	var resp membersResponse
	if err := c.call(ctx, cmdMembers, nil, &resp); err != nil {
		return nil, err
	}
	return fromMemberRecords(resp.Members), nil
}

// MembersFiltered returns the members matching every pattern of f. A
// pattern that does not compile is an error wrapping ErrInvalidRegex from
// our agent; a Serf agent closes the connection instead.
func (c *Client) MembersFiltered(ctx context.Context, f MemberFilter) ([]events.Member, error) {
	req := membersFilteredRequest(f)
	var resp membersResponse
	if err := c.call(ctx, cmdMembersFiltered, &req, &resp); err != nil {
		return nil, err
	}
	return fromMemberRecords(resp.Members), nil
}

// Join asks the agent to join the cluster through addrs ("host:port") and
// returns how many of them answered. With replay, past user events are
// delivered too. On error the count is still the agent's.
func (c *Client) Join(ctx context.Context, addrs []string, replay bool) (int, error) {
	var resp joinResponse
	err := c.call(ctx, cmdJoin, &joinRequest{Existing: addrs, Replay: replay}, &resp)
	return int(resp.Num), err
}

// Leave asks the agent to leave the cluster gracefully and shut down.
//
// It succeeds when the agent answers without error, whatever happens to
// the connection afterwards, and also when the agent closes the connection
// cleanly (end of stream) after the request was completely written and
// before any answer: that is what an agent that exits right after leaving
// looks like. An error answer, a failed write, a reset connection, and ctx
// ending are errors.
func (c *Client) Leave(ctx context.Context) error {
	sent, err := c.roundTrip(ctx, cmdLeave, nil, nil)
	var remote *RemoteError
	if sent && err != nil && !errors.As(err, &remote) && errors.Is(err, ErrClientClosed) && errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// ForceLeave asks the agent to move a failed member to left; with prune,
// to erase it at once.
func (c *Client) ForceLeave(ctx context.Context, node string, prune bool) error {
	return c.call(ctx, cmdForceLeave, &forceLeaveRequest{Node: node, Prune: prune}, nil)
}

// UserEvent fires a user event through the agent: every member delivers
// it to its handlers and streams. With coalesce, a burst of events of the
// same name may be delivered as only the latest.
func (c *Client) UserEvent(ctx context.Context, name string, payload []byte, coalesce bool) error {
	return c.call(ctx, cmdEvent, &eventRequest{Name: name, Payload: payload, Coalesce: coalesce}, nil)
}

// ModifyKeys runs a keyring operation through the agent on every member:
// op is "install-key", "use-key", "remove-key" or "list-keys", key the
// base64 key (ignored by list-keys). The result holds what the members
// answered, also when the error says some failed.
func (c *Client) ModifyKeys(ctx context.Context, op, key string) (KeyResult, error) {
	var req any
	switch op {
	case cmdInstallKey, cmdUseKey, cmdRemoveKey:
		req = &keyRequest{Key: key}
	case cmdListKeys:
	default:
		return KeyResult{}, fmt.Errorf("unknown keyring operation %q", op)
	}
	var resp keyResponse
	err := c.call(ctx, op, req, &resp)
	return KeyResult(resp), err
}

// GetCoordinate returns the network coordinate the agent knows for node;
// false when it knows none (or coordinates are disabled).
func (c *Client) GetCoordinate(ctx context.Context, node string) (Coordinate, bool, error) {
	var resp coordinateResponse
	if err := c.call(ctx, cmdGetCoordinate, &coordinateRequest{Node: node}, &resp); err != nil {
		return Coordinate{}, false, err
	}
	return Coordinate(resp.Coord), resp.Ok, nil
}

// Respond answers the query with id that a stream of this connection
// delivered (events.QueryEvent.ID). An unknown or expired id is an error
// wrapping ErrInvalidQueryID.
func (c *Client) Respond(ctx context.Context, id uint64, payload []byte) error {
	return c.call(ctx, cmdRespond, &respondRequest{ID: id, Payload: payload}, nil)
}

// UpdateTags changes the agent's tags: the keys in remove are deleted, then
// set is applied (so set wins over remove).
func (c *Client) UpdateTags(ctx context.Context, set map[string]string, remove []string) error {
	return c.call(ctx, cmdTags, &tagsRequest{Tags: set, DeleteTags: remove}, nil)
}

// Stats returns the agent's debugging figures by section ("agent",
// "serf", "runtime", "tags", ...).
func (c *Client) Stats(ctx context.Context) (map[string]map[string]string, error) {
	var resp map[string]map[string]string
	if err := c.call(ctx, cmdStats, nil, &resp); err != nil {
		return nil, err
	}
	return resp, nil
}
