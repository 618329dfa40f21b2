//go:build unix

package handlers

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProgramPath(t *testing.T) {
	for _, tc := range []struct {
		command string
		direct  bool
	}{
		{"/etc/agent/handler.sh", true},
		{"./deploy-v2", true},
		{"bin/lb_reload+x,y:z@host%1", true},
		{"handler.sh", false}, // PATH search: the shell's business
		{"true", false},
		{"/bin/echo hi", false},
		{"/bin/x;reboot", false},
		{"/bin/x > out", false},
		{"FOO=1/x", false},
		{"~/handler.sh", false},
		{"/path/$HOME", false},
		{"/path/*", false},
		{"", false},
	} {
		_, got := programPath(tc.command)
		if got != tc.direct {
			t.Errorf("programPath(%q) = %t, want %t", tc.command, got, tc.direct)
		}
	}
}

// writeScript writes an executable file into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunCommandStartsProgramsDirectly(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "GREETING=hello")
	for _, tc := range []struct {
		name, command string
		wantOut       string
		wantExit      int
		parent        string // "us": started directly; "shell": a shell started it
	}{
		{"script with #!", writeScript(t, dir, "direct.sh", "#!/bin/sh\necho \"$GREETING $(cat) $PPID\"\n"), "hello payload", 0, "us"},
		{"script without #! falls back to the shell", writeScript(t, dir, "bare.sh", "echo \"$GREETING $(cat) $PPID\"\n"), "hello payload", 0, "shell"},
		{"shell syntax", "echo \"$GREETING $(cat)\"", "hello payload", 0, ""},
		{"missing program reported by the shell", filepath.Join(dir, "missing.sh"), "not found", 127, ""},
		{"exit status kept", writeScript(t, dir, "fail.sh", "#!/bin/sh\necho failing\nexit 3\n"), "failing", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCommand(context.Background(), DefaultShell, tc.command, env, []byte("payload"), 10*time.Second)
			out := strings.TrimSpace(string(res.output))
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("output %q, want it to contain %q", out, tc.wantOut)
			}
			if res.exitCode != tc.wantExit {
				t.Fatalf("exit %d, want %d (output %q)", res.exitCode, tc.wantExit, out)
			}
			if tc.parent == "" {
				return
			}
			fields := strings.Fields(out)
			ppid, err := strconv.Atoi(fields[len(fields)-1])
			if err != nil {
				t.Fatalf("no parent pid in %q", out)
			}
			if direct := ppid == os.Getpid(); direct != (tc.parent == "us") {
				t.Fatalf("started directly = %t, want parent %s (parent %d, us %d)", direct, tc.parent, ppid, os.Getpid())
			}
		})
	}
}
