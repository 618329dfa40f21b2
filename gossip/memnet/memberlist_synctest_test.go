// The race detector has crashed (SIGSEGV inside its runtime) about once in
// 65 runs of this test on Go 1.26, a known synctest-with-race problem, so it
// runs only in builds without -race; `go test ./gossip/memnet/` covers it.

//go:build !race

package memnet

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestMemberlistSynctest runs the scenario with memberlist's stock local
// timings inside a testing/synctest bubble: its minute of protocol time
// passes on the bubble's fake clock in about a second of CPU, and the clock
// only moves when every goroutine is blocked, so a slow machine cannot cause
// false failure detections. synctest.Test also fails if any goroutine
// outlives the nodes' Shutdown. 20 nodes keep it quick under -race; the same
// scenario has passed with 500 and 1000 nodes (minutes of wall time).
func TestMemberlistSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scenario{nodes: 20, timeout: 5 * time.Minute}.run(t, New(Config{Seed: 1}))
		// memberlist.Shutdown does not wait for its goroutines: a probe in
		// flight first waits out its timeouts (up to ProbeInterval times
		// AwarenessMaxMultiplier). The bubble's clock stops when this
		// function returns, so let it run on until they have finished.
		time.Sleep(time.Minute)
	})
}
