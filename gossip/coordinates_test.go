package gossip_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/serf/serf"
)

// TestSerfInteropCoordinates: coordinates travel on ping acks both ways
// between our node and a Serf library node, and each estimates a positive
// round trip to the other.
func TestSerfInteropCoordinates(t *testing.T) {
	ours, _ := startNode(t, fastConfig(t, "ours"))
	theirs := startSerfWith(t, "serf", nil, func(c *serf.Config) { c.DisableCoordinates = false })
	if _, err := theirs.Join([]string{ours.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() string {
		theirCoord, ok := ours.CachedCoordinate("serf")
		if !ok {
			return "ours has no coordinate for the Serf node"
		}
		ourCoord, ok := theirs.GetCachedCoordinate("ours")
		if !ok {
			return "the Serf node has no coordinate for ours"
		}
		mine := ours.Coordinate()
		if d := mine.DistanceTo(theirCoord); d <= 0 {
			return fmt.Sprintf("our estimate to serf is %v", d)
		}
		serfSelf, err := theirs.GetCoordinate()
		if err != nil {
			return err.Error()
		}
		if d := serfSelf.DistanceTo(ourCoord); d <= 0 {
			return fmt.Sprintf("Serf's estimate to ours is %v", d)
		}
		return ""
	})
}

// With coordinates disabled a node neither computes, sends nor stores any.
func TestDisableCoordinates(t *testing.T) {
	cfg := fastConfig(t, "plain")
	cfg.DisableCoordinates = true
	plain, _ := startNode(t, cfg)
	other, _ := startNode(t, fastConfig(t, "other"))
	if _, err := plain.Join(context.Background(), []string{other.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	// Wait until the other node has coordinates from pings of its own...
	pinger, _ := startNode(t, fastConfig(t, "pinger"))
	if _, err := pinger.Join(context.Background(), []string{other.Addr()}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() string {
		if _, ok := other.CachedCoordinate("pinger"); !ok {
			return "no coordinate exchanged between the enabled nodes"
		}
		return ""
	})
	// ...by then it has pinged the disabled node too, which sent none.
	if _, ok := other.CachedCoordinate("plain"); ok {
		t.Error("the disabled node sent a coordinate")
	}
	if plain.Coordinate() != nil {
		t.Error("the disabled node has a coordinate")
	}
	if _, ok := plain.CachedCoordinate("other"); ok {
		t.Error("the disabled node stored a peer's coordinate")
	}
}
