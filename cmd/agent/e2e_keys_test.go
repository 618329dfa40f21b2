package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/gossip"
)

// TestEndToEndKeyRotation: three agents encrypting with one key rotate to
// another through `agent keys`, their keyring files follow, an agent
// restarted with the old --encrypt rejoins with the file's new key, and an
// agent with a wrong key cannot join.
func TestEndToEndKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildAgent(t)
	const k1, k2 = "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=", "uDNDbBdpmpi4gmEpUkG4cvt1idmb1gRB4DrV8V1oHAs="
	dir := t.TempDir()
	keyring := func(name string) string { return filepath.Join(dir, name+".keyring") }
	start := func(name, join, key string) *proc {
		p := startAgent(t, bin, name, join, "--profile", "local", "--encrypt", key, "--keyring-file", keyring(name))
		waitListening(t, p)
		return p
	}
	var ps []*proc
	for i := range 3 {
		join := ""
		if i > 0 {
			join = ps[0].gossip
		}
		ps = append(ps, start(fmt.Sprintf("enc-%d", i), join, k1))
	}
	allAlive := func(ps []*proc) {
		waitView(t, bin, ps, "all alive", func(name, status string, _ map[string]string) string {
			if status != "alive" {
				return name + " is " + status
			}
			return ""
		}, 3)
	}
	allAlive(ps)

	keys := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"keys", "--rpc-addr", ps[1].rpc}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("agent keys %s: %v\n%s", args, err, out)
		}
		return string(out)
	}
	keys("--install", k2)
	keys("--use", k2)
	keys("--remove", k1)
	if out := keys("--list"); !strings.Contains(out, k2+"  [3/3]") || strings.Contains(out, k1) {
		t.Fatalf("agent keys --list after the rotation:\n%s\nwant only the new key, on 3 of 3", out)
	}
	for _, p := range ps {
		saved, err := gossip.LoadKeyringFile(keyring(p.name))
		if err != nil || len(saved) != 1 || gossip.EncodeKey(saved[0]) != k2 {
			t.Fatalf("%s keyring file: %d keys, %v; want only the new key", p.name, len(saved), err)
		}
	}

	// A restart with the old key on the command line uses the file's.
	if err := ps[2].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-ps[2].waitErr
	ps[2].waitErr <- nil // let the cleanup's wait return
	ps[2] = start("enc-2", ps[0].gossip, k1)
	allAlive(ps)

	// A stranger with another key fails to join, saying why.
	stranger := exec.Command(bin, "run", "--node", "stranger", "--bind", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0",
		"--encrypt", k1, "--join", ps[0].gossip)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = stranger.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = stranger.Process.Kill()
		<-done
		t.Fatal("an agent with the wrong key kept running instead of failing its --join")
	}
	if err == nil || !strings.Contains(string(out), "decrypt") {
		t.Fatalf("stranger: %v\n%s\nwant a failed start that says no key could decrypt", err, out)
	}
}
