package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestEndToEndCrashRestart: an agent killed with kill -9 and started again
// with its snapshot and no --join rejoins the cluster, runs the event fired
// while it was down, and never runs an old event again.
func TestEndToEndCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildAgent(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "handler.out")
	snap := filepath.Join(dir, "snapshot")
	seed := startAgent(t, bin, "seed", "")
	waitListening(t, seed)
	args := func(join string) func(gossip, rpc string) []string {
		return func(gossip, rpc string) []string {
			a := []string{"run", "--node", "crashy", "--bind", gossip, "--rpc-addr", rpc, "--profile", "local",
				"--snapshot", snap, "--event-handler", fmt.Sprintf(`user:deploy=echo "$(cat)" >> %s`, out)}
			if join != "" {
				a = append(a, "--join", join)
			}
			return a
		}
	}
	crashy := startProcess(t, bin, "crashy", args(seed.gossip))
	waitListening(t, crashy)
	both := []*proc{seed, crashy}
	alive := func(ps []*proc) {
		waitView(t, bin, ps, "both alive", func(name, status string, _ map[string]string) string {
			if status != "alive" {
				return name + " is " + status
			}
			return ""
		}, 2)
	}
	alive(both)
	fire := func(payload string) {
		t.Helper()
		if o, err := exec.Command(bin, "event", "--rpc-addr", seed.rpc, "--coalesce=false", "deploy", payload).CombinedOutput(); err != nil {
			t.Fatalf("agent event: %v\n%s", err, o)
		}
	}
	handlerSaw := func(want string) {
		t.Helper()
		waitUntil(t, 20*time.Second, func() string {
			if b, _ := os.ReadFile(out); string(b) != want {
				return fmt.Sprintf("the handler wrote %q; want %q", b, want)
			}
			return ""
		})
	}
	fire("v1")
	handlerSaw("v1\n")

	if err := crashy.cmd.Process.Kill(); err != nil { // kill -9
		t.Fatal(err)
	}
	<-crashy.waitErr
	crashy.waitErr <- nil // for the cleanup's wait
	fire("v2")

	again := startProcessAt(t, bin, "crashy", crashy.gossip, crashy.rpc, args(""))
	waitListening(t, again)
	alive([]*proc{seed, again})
	handlerSaw("v1\nv2\n")
	fire("v3")
	handlerSaw("v1\nv2\nv3\n")
}
