package gossip

import (
	"bytes"
	"time"

	"github.com/agentd/agent/gossip/vivaldi"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// pingCoordVersion is the first byte of a ping ack's payload that carries
// a coordinate (Serf's ping version).
const pingCoordVersion = 1

// pingDelegate carries Vivaldi coordinates on memberlist's ping acks, in
// Serf's format (the version byte, then the msgpack coordinate), and feeds
// each measured round trip to the coordinate client.
type pingDelegate struct{ n *Node }

// AckPayload returns our coordinate for the pinger.
func (d *pingDelegate) AckPayload() []byte {
	var buf bytes.Buffer
	buf.WriteByte(pingCoordVersion)
	if err := codec.NewEncoder(&buf, wire).Encode(d.n.coords.Coordinate()); err != nil {
		d.n.logger.Error("encode coordinate", "err", err)
		return nil
	}
	return buf.Bytes()
}

// NotifyPingComplete updates our coordinate with a ping's round trip and
// remembers the peer's coordinate. A coordinate that is not finite is
// dropped and counted, never stored or passed on.
func (d *pingDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	n := d.n
	if len(payload) == 0 || payload[0] != pingCoordVersion {
		return // a peer without coordinates, or a version we do not know
	}
	var c vivaldi.Coordinate
	if err := codec.NewDecoderBytes(payload[1:], wire).Decode(&c); err != nil {
		n.stats.coordsRejected.Add(1)
		n.logger.Debug("undecodable coordinate in a ping ack", "from", other.Name, "err", err)
		return
	}
	if !c.Valid() {
		n.stats.coordsRejected.Add(1)
		n.logger.Warn("dropping a coordinate that is not finite", "from", other.Name)
		return
	}
	if _, err := n.coords.Update(other.Name, &c, rtt); err != nil {
		n.stats.coordsRejected.Add(1)
		n.logger.Debug("coordinate update refused", "from", other.Name, "err", err)
	}
}

// Coordinate returns this node's network coordinate; nil when
// coordinates are disabled.
func (n *Node) Coordinate() *vivaldi.Coordinate {
	if n.coords == nil {
		return nil
	}
	return n.coords.Coordinate()
}

// CachedCoordinate returns the last coordinate heard from a member (this
// node's own included); false when none is known.
func (n *Node) CachedCoordinate(name string) (*vivaldi.Coordinate, bool) {
	if n.coords == nil {
		return nil, false
	}
	if name == n.cfg.NodeName {
		return n.coords.Coordinate(), true
	}
	return n.coords.Peer(name)
}

// forgetCoordinate drops what is known about a member that is gone.
func (n *Node) forgetCoordinate(name string) {
	if n.coords == nil {
		return
	}
	n.coords.Forget(name)
}
