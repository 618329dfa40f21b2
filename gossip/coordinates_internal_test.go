package gossip

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/agentd/agent/gossip/vivaldi"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// A coordinate with NaN in it, arriving on a ping ack, is dropped: not
// stored, not used, counted.
func TestNaNCoordinateFromTheNetworkIsDropped(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeName = "self"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := n.Coordinate()
	bad := vivaldi.NewCoordinate(vivaldi.DefaultConfig())
	bad.Vec[0] = math.NaN()
	var buf bytes.Buffer
	buf.WriteByte(pingCoordVersion)
	if err := codec.NewEncoder(&buf, wire).Encode(bad); err != nil {
		t.Fatal(err)
	}
	d := &pingDelegate{n: n}
	d.NotifyPingComplete(&memberlist.Node{Name: "evil"}, time.Millisecond, buf.Bytes())
	if _, ok := n.CachedCoordinate("evil"); ok {
		t.Fatal("the NaN coordinate was stored")
	}
	if got := n.Stats().CoordinatesRejected; got != 1 {
		t.Fatalf("rejected count %d; want 1", got)
	}
	if after := n.Coordinate(); !after.Valid() || after.Vec[0] != before.Vec[0] {
		t.Fatalf("our coordinate changed: %+v", after)
	}
	// Our own ack payload decodes back to a valid coordinate.
	var mine vivaldi.Coordinate
	payload := d.AckPayload()
	if payload[0] != pingCoordVersion || codec.NewDecoderBytes(payload[1:], wire).Decode(&mine) != nil || !mine.Valid() {
		t.Fatalf("ack payload %x does not carry a valid coordinate", payload)
	}
}
