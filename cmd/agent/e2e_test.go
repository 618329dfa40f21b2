package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test builds the agent binary once and drives real
// processes on 127.0.0.1 through the CLI, as an operator would.

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free TCP+UDP port")
	return 0
}

func buildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type proc struct {
	name    string
	rpc     string
	gossip  string
	cmd     *exec.Cmd
	started time.Time // just before the process was started
	stderr  *bytes.Buffer
	waitErr chan error
}

func startAgent(t testing.TB, bin, name string, join string, extra ...string) *proc {
	t.Helper()
	if len(extra) == 0 {
		extra = []string{"--profile", "local"}
	}
	return startProcess(t, bin, name, func(gossip, rpc string) []string {
		args := []string{"run", "--node", name, "--bind", gossip, "--rpc-addr", rpc, "--tag", "role=web"}
		args = append(args, extra...)
		if join != "" {
			args = append(args, "--join", join)
		}
		return args
	})
}

// startProcess starts bin with the arguments args builds from free gossip
// and RPC addresses; the process is killed when the test ends.
func startProcess(t testing.TB, bin, name string, args func(gossip, rpc string) []string) *proc {
	t.Helper()
	return startProcessAt(t, bin, name, "127.0.0.1:"+strconv.Itoa(freePort(t)), "127.0.0.1:"+strconv.Itoa(freePort(t)), args)
}

// startProcessAt is startProcess on given addresses (a restart reuses them).
func startProcessAt(t testing.TB, bin, name, gossip, rpc string, args func(gossip, rpc string) []string) *proc {
	t.Helper()
	p := &proc{
		name:    name,
		rpc:     rpc,
		gossip:  gossip,
		stderr:  new(bytes.Buffer),
		waitErr: make(chan error, 1),
	}
	p.cmd = exec.Command(bin, args(p.gossip, p.rpc)...)
	p.cmd.Stderr = p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { p.waitErr <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.waitErr
	})
	return p
}

type e2eMembers struct {
	Members []struct {
		Name   string            `json:"name"`
		Status string            `json:"status"`
		Tags   map[string]string `json:"tags"`
	} `json:"members"`
}

// e2eList runs `agent members --format json` against p; a non-empty
// string explains a failure.
func e2eList(bin string, p *proc) (e2eMembers, string) {
	var mj e2eMembers
	out, err := exec.Command(bin, "members", "--format", "json", "--rpc-addr", p.rpc).Output()
	if err != nil {
		return mj, fmt.Sprintf("%s: agent members: %v", p.name, err)
	}
	if err := json.Unmarshal(out, &mj); err != nil {
		return mj, fmt.Sprintf("%s: bad JSON %q: %v", p.name, out, err)
	}
	return mj, ""
}

// waitView polls `agent members` on every agent in ps until check passes.
func waitView(t *testing.T, bin string, ps []*proc, what string, check func(name, status string, tags map[string]string) string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		why := ""
		for _, p := range ps {
			mj, err := e2eList(bin, p)
			if err != "" {
				why = err
				break
			}
			if len(mj.Members) != want {
				why = fmt.Sprintf("%s lists %d members; want %d", p.name, len(mj.Members), want)
				break
			}
			for _, m := range mj.Members {
				if w := check(m.Name, m.Status, m.Tags); w != "" {
					why = p.name + ": " + w
					break
				}
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after 60s: %s", what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEndToEndFiveAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildAgent(t)
	handlerOut := t.TempDir()
	var ps []*proc
	for i := range 5 {
		join := ""
		if i > 0 {
			join = ps[0].gossip
		}
		name := fmt.Sprintf("e2e-%d", i)
		handler := fmt.Sprintf(`user:deploy=echo "$SERF_EVENT $SERF_USER_EVENT $SERF_SELF_NAME $(cat)" >> %s`, filepath.Join(handlerOut, name))
		p := startAgent(t, bin, name, join, "--event-handler", handler, "--event-handler", `query:uptime=echo "up $SERF_SELF_NAME $(cat)"`)
		// Gossip is up once RPC listens; the next agent joins through it.
		waitListening(t, p)
		ps = append(ps, p)
	}
	waitView(t, bin, ps, "all alive", func(name, status string, _ map[string]string) string {
		if status != "alive" {
			return name + " is " + status
		}
		return ""
	}, 5)

	// `agent event` runs every agent's handler exactly once.
	if out, err := exec.Command(bin, "event", "--rpc-addr", ps[2].rpc, "--coalesce=false", "deploy", "v42").CombinedOutput(); err != nil {
		t.Fatalf("agent event: %v\n%s", err, out)
	}
	for _, p := range ps {
		want := fmt.Sprintf("user deploy %s v42\n", p.name)
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(handlerOut, p.name))
			if string(b) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("handler of %s wrote %q; want %q\n%s", p.name, b, want, p.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// `agent query` gathers the 5 handlers' answers and ends once all are in,
	// long before its timeout.
	start := time.Now()
	out, err := exec.Command(bin, "query", "--rpc-addr", ps[1].rpc, "--timeout", "60s", "--format", "json", "uptime", "now").CombinedOutput()
	if err != nil {
		t.Fatalf("agent query: %v\n%s", err, out)
	}
	var qr struct {
		Acks      []string
		Responses map[string]string
	}
	if err := json.Unmarshal(out, &qr); err != nil {
		t.Fatalf("agent query output %q: %v", out, err)
	}
	if len(qr.Acks) != 5 || len(qr.Responses) != 5 || qr.Responses["e2e-3"] != "up e2e-3 now\n" {
		t.Errorf("agent query: %+v; want 5 acks and 5 responses like \"up e2e-3 now\"", qr)
	}
	took := time.Since(start)
	t.Logf("agent query with 5 responders took %s", took)
	if took > 30*time.Second {
		t.Errorf("agent query took %s with every answer in; it should end well before its 60s timeout", took)
	}

	// Tags set on one agent show up in every member list.
	if out, err := exec.Command(bin, "tags", "--rpc-addr", ps[1].rpc, "--set", "version=42").CombinedOutput(); err != nil {
		t.Fatalf("agent tags: %v\n%s", err, out)
	}
	waitView(t, bin, ps, "tags", func(name, _ string, tags map[string]string) string {
		if name == "e2e-1" && tags["version"] != "42" {
			return fmt.Sprintf("e2e-1 tags %v; want version=42", tags)
		}
		return ""
	}, 5)

	// kill -9 makes e2e-4 failed; `agent leave` makes e2e-3 left.
	if err := ps[4].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "leave", "--rpc-addr", ps[3].rpc).CombinedOutput(); err != nil {
		t.Fatalf("agent leave: %v\n%s", err, out)
	}
	select {
	case err := <-ps[3].waitErr:
		ps[3].waitErr <- err
		if err != nil {
			t.Errorf("agent e2e-3 exited with %v after leave; want 0\n%s", err, ps[3].stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent e2e-3 still running 20s after leave")
	}
	rest := ps[:3]
	waitView(t, bin, rest, "after kill and leave", func(name, status string, _ map[string]string) string {
		want := map[string]string{"e2e-3": "left", "e2e-4": "failed"}[name]
		if want == "" {
			want = "alive"
		}
		if status != want {
			return fmt.Sprintf("%s is %s; want %s", name, status, want)
		}
		return ""
	}, 5)

	// force-leave --prune removes the failed one everywhere.
	if out, err := exec.Command(bin, "force-leave", "--prune", "--rpc-addr", ps[0].rpc, "e2e-4").CombinedOutput(); err != nil {
		t.Fatalf("agent force-leave: %v\n%s", err, out)
	}
	waitView(t, bin, rest, "after prune", func(name, _ string, _ map[string]string) string {
		if name == "e2e-4" {
			return "e2e-4 still listed after force-leave --prune"
		}
		return ""
	}, 4)

	// SIGINT: a graceful leave and a clean exit.
	if err := ps[2].cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ps[2].waitErr:
		ps[2].waitErr <- err
		if err != nil {
			t.Errorf("agent exited with %v on SIGINT; want 0\n%s", err, ps[2].stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent still running 20s after SIGINT")
	}
	waitView(t, bin, ps[:2], "after SIGINT", func(name, status string, _ map[string]string) string {
		if name == "e2e-2" && status != "left" {
			return "e2e-2 is " + status + "; want left"
		}
		return ""
	}, 4)
}

// TestEndToEndReloadOnSIGHUP: SIGHUP re-reads the config files; a changed
// tag reaches the member list without a restart.
func TestEndToEndReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildAgent(t)
	cfgPath := filepath.Join(t.TempDir(), "agent.json")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"tags": {"release": "v1"}, "log_level": "info"}`)
	p := startAgent(t, bin, "hup", "", "--profile", "local", "--config-file", cfgPath)
	want := func(release string) func(name, status string, tags map[string]string) string {
		return func(name, _ string, tags map[string]string) string {
			if tags["release"] != release {
				return fmt.Sprintf("%s has release=%q; want %q", name, tags["release"], release)
			}
			return ""
		}
	}
	waitView(t, bin, []*proc{p}, "before reload", want("v1"), 1)
	write(`{"tags": {"release": "v2"}, "log_level": "debug"}`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitView(t, bin, []*proc{p}, "after SIGHUP", want("v2"), 1)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.waitErr:
		p.waitErr <- err
		if err != nil {
			t.Errorf("agent exited with %v on SIGTERM; want 0\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent still running 20s after SIGTERM")
	}
}
