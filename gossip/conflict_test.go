package gossip_test

import (
	"context"
	"testing"
	"time"
)

// A newcomer that takes an existing node's name is outvoted by the
// members that know the original, and shuts down; the original stays.
func TestNameConflictResolvedByMajority(t *testing.T) {
	nodes, _ := startJoined(t, 4)
	impostor, _ := startNode(t, fastConfig(t, "node-1"))
	// The join may fail or succeed: memberlist refuses the clashing name on
	// some paths. Either way the conflict reaches both parties.
	_, _ = impostor.Join(context.Background(), []string{nodes[2].Addr()}, false)
	select {
	case <-impostor.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the impostor is still running 20s after joining under a taken name")
	}
	if !impostor.ConflictLost() {
		t.Error("the impostor stopped, but not for losing the name conflict")
	}
	select {
	case <-nodes[1].Done():
		t.Fatal("the original node-1 shut down")
	default:
	}
	if nodes[1].ConflictLost() {
		t.Error("the original node-1 believes it lost")
	}
}
