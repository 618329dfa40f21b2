package rpc

import (
	"math"
	"time"
)

// dispatch runs a known command on behalf of an accepted connection.
func (c *conn) dispatch(req request) {
	if f := c.srv.cfg.OnCommand; f != nil {
		f(req.name)
	}
	switch req.name {
	case cmdHandshake:
		c.handleHandshake(req)
	case cmdAuth:
		c.handleAuth(req)
	case cmdMembers, cmdMembersFiltered:
		c.handleMembers(req)
	case cmdJoin:
		c.handleJoin(req)
	case cmdForceLeave:
		c.handleForceLeave(req)
	case cmdQuery:
		c.handleQuery(req)
	case cmdRespond:
		c.handleRespond(req)
	case cmdEvent:
		r := req.body.(*eventRequest)
		c.replyCmd(req, c.srv.cfg.Cluster.UserEvent(r.Name, r.Payload, r.Coalesce), nil)
	case cmdLeave:
		c.handleLeave(req)
	case cmdInstallKey, cmdUseKey, cmdRemoveKey, cmdListKeys:
		c.handleKeys(req)
	case cmdTags:
		c.handleTags(req)
	case cmdGetCoordinate:
		r := req.body.(*coordinateRequest)
		coord, ok := c.srv.cfg.Cluster.Coordinate(r.Node)
		c.replyCmd(req, nil, &coordinateResponse{Coord: coordinateRecord(coord), Ok: ok})
	case cmdStats:
		c.replyCmd(req, nil, cloneStats(c.srv.cfg.Local.Stats()))
	case cmdStream:
		c.handleStream(req)
	case cmdMonitor:
		c.handleMonitor(req)
	case cmdStop:
		c.handleStop(req)
	default:
		// the key commands, get-coordinate: the body
		// has been read, so the connection stays usable.
		c.replyCmd(req, errNotImplemented(req.name), nil)
	}
}

// errNotImplemented is the error for a Serf command this agent lacks.
func errNotImplemented(name string) error {
	return wireError(withDetail(ErrNotImplemented, name))
}

func (c *conn) handleHandshake(req request) {
	r := req.body.(*handshakeRequest)
	var err error
	switch {
	case r.Version < minIPCVersion || r.Version > maxIPCVersion:
		err = ErrUnsupportedVersion
	case c.version != 0:
		err = ErrDuplicateHandshake
	default:
		c.version = r.Version
	}
	c.replyCmd(req, err, nil)
}

// handleAuth checks the key. As in Serf, a failed auth after a successful
// one does not revoke it, and a key sent to an agent without one fails.
func (c *conn) handleAuth(req request) {
	r := req.body.(*authRequest)
	var err error
	if c.authOK(r.AuthKey) {
		c.authed = true
	} else {
		c.log.Warn("rpc client sent an invalid auth key")
		err = ErrInvalidAuthToken
	}
	c.replyCmd(req, err, nil)
}

func (c *conn) handleMembers(req request) {
	var f memberFilter
	if r, ok := req.body.(*membersFilteredRequest); ok {
		var err error
		if f, err = compileMemberFilter(*r); err != nil {
			c.replyCmd(req, err, nil)
			return
		}
	}
	all := c.srv.cfg.Cluster.Members()
	out := make([]memberRecord, 0, len(all))
	for _, m := range all {
		if f.match(m) {
			out = append(out, toMemberRecord(m))
		}
	}
	c.replyCmd(req, nil, &membersResponse{Members: out})
}

func (c *conn) handleJoin(req request) {
	r := req.body.(*joinRequest)
	n, err := c.srv.cfg.Cluster.Join(c.srv.ctx, r.Existing, r.Replay)
	if err != nil {
		c.log.Info("rpc join failed", "addrs", r.Existing, "joined", n, "err", err)
	}
	c.replyCmd(req, err, &joinResponse{Num: int32(min(max(n, 0), math.MaxInt32))})
}

// handleKeys runs a keyring operation across the cluster. Like join, it
// answers once the operation is over (Serf does the same).
func (c *conn) handleKeys(req request) {
	var key string
	if r, ok := req.body.(*keyRequest); ok {
		key = r.Key
	}
	res, err := c.srv.cfg.Cluster.ModifyKeys(c.srv.ctx, req.name, key)
	if err != nil {
		c.log.Warn("rpc keyring operation", "op", req.name, "err", err)
	}
	c.replyCmd(req, err, &keyResponse{Messages: orEmpty(res.Messages), Keys: orEmpty(res.Keys),
		NumNodes: res.NumNodes, NumErr: res.NumErr, NumResp: res.NumResp})
}

// orEmpty returns m, or an empty map for nil: Serf's client expects maps.
func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func (c *conn) handleForceLeave(req request) {
	r := req.body.(*forceLeaveRequest)
	c.replyCmd(req, c.srv.cfg.Cluster.ForceLeave(c.srv.ctx, r.Node, r.Prune), nil)
}

// handleLeave leaves and answers. The exit is requested only once the
// answer is flushed and this client has hung up (or LeaveGrace passed, see
// finish), so the client reads the outcome before the agent closes its
// connections. Serf also answers first.
func (c *conn) handleLeave(req request) {
	c.log.Info("graceful leave requested over rpc")
	err := c.srv.cfg.Local.Leave(c.srv.ctx)
	if err != nil {
		c.log.Error("rpc leave failed", "err", err)
	}
	c.replyFlushed(req.seq, errText(err), nil)
	c.exitOnClose = true
	if err := c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.LeaveGrace)); err != nil {
		c.close() // the exit follows from finish
	}
}

func (c *conn) handleTags(req request) {
	r := req.body.(*tagsRequest)
	c.replyCmd(req, c.srv.cfg.Local.UpdateTags(c.srv.ctx, r.Tags, r.DeleteTags), nil)
}

// handleStop ends the stream or monitor opened under the given Seq. Like
// Serf it always succeeds. No record of that Seq follows its response.
func (c *conn) handleStop(req request) {
	r := req.body.(*stopRequest)
	if c.monitor != nil && c.monitor.seq == r.Stop {
		c.monitor.end()
		c.monitor = nil
	}
	if s, ok := c.streams[r.Stop]; ok {
		s.end()
		delete(c.streams, r.Stop)
	}
	c.replyCmd(req, nil, nil)
}
