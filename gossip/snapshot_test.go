package gossip

import (
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// logTo returns a logger writing text lines to buf.
func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func writeTestSnapshot(t *testing.T, path string) (before, after SnapshotState) {
	t.Helper()
	s, _, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.alive("a", "10.0.0.1:7946")
	s.alive("b", "10.0.0.2:7946")
	s.clocks(5, 7, 9)
	s.notAlive("a")
	before = cloneState(s.state)
	s.clocks(6, 8, 10) // the last record
	after = cloneState(s.state)
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	return before, after
}

func sameState(a, b SnapshotState) bool {
	return maps.Equal(a.Alive, b.Alive) && a.Clock == b.Clock && a.EventClock == b.EventClock && a.QueryClock == b.QueryClock && a.Left == b.Left
}

// TestSnapshotCutAtEveryByte: a file cut anywhere (a crash mid-write)
// opens without error, keeps every whole record, and takes appends again.
func TestSnapshotCutAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	before, after := writeTestSnapshot(t, full)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	lastLen := len(appendRecord(nil, recClocks, clockPayload(0, 0, 0)))
	lastStart := len(data) - lastLen
	for cut := 0; cut <= len(data); cut++ {
		path := filepath.Join(dir, "cut")
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		s, st, err := openSnapshot(path, logTo(&log))
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", cut, len(data), err)
		}
		switch {
		case cut == len(data):
			if !sameState(st, after) || log.Len() != 0 {
				t.Fatalf("whole file: state %+v, log %q; want %+v and no warning", st, log.String(), after)
			}
		case cut >= lastStart:
			if !sameState(st, before) {
				t.Fatalf("cut at %d inside the last record: state %+v; want %+v", cut, st, before)
			}
			if cut > lastStart && !strings.Contains(log.String(), "torn record") {
				t.Fatalf("cut at %d: no warning about the torn record: %q", cut, log.String())
			}
		}
		// Appends after the cut are read back.
		s.alive("c", "10.0.0.3:7946")
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		_, st2, err := openSnapshot(path, slog.New(slog.DiscardHandler))
		if err != nil || st2.Alive["c"] != "10.0.0.3:7946" {
			t.Fatalf("cut at %d: after an append, state %+v, %v; want member c", cut, st2, err)
		}
	}
}

func TestSnapshotCorruptMiddleKeepsPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	writeTestSnapshot(t, path)
	data, _ := os.ReadFile(path)
	data[len(snapshotMagic)+1+3] ^= 0xff // inside the first record's length or payload
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, st, err := openSnapshot(path, logTo(&log))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Alive) != 0 || !strings.Contains(log.String(), "ignoring the end of the file") {
		t.Fatalf("state %+v, log %q; want nothing kept and a warning", st, log.String())
	}
}

func TestSnapshotRefusesOtherFormats(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not a snapshot": "hello\nworld\n",
		"newer format":   snapshotMagic + "\x02",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := openSnapshot(path, slog.New(slog.DiscardHandler))
		if !errors.Is(err, ErrSnapshotFormat) {
			t.Errorf("%s: error %v; want ErrSnapshotFormat", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("%s: the refused file was changed", name)
		}
	}
}

func TestSnapshotCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	s, _, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.alive("a", "10.0.0.1:7946")
	for i := range 20000 {
		s.clocks(LamportTime(i+1), LamportTime(i+1), LamportTime(i+1))
	}
	want := cloneState(s.state)
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > compactMinSize+1024 {
		t.Fatalf("file is %d bytes after 20,000 clock records; want it compacted under %d", st.Size(), compactMinSize)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v; want 0600", st.Mode().Perm())
	}
	_, got, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil || !sameState(got, want) {
		t.Fatalf("after compaction: %+v, %v; want %+v", got, err, want)
	}
}

func TestSnapshotUnwritableDirectory(t *testing.T) {
	_, _, err := openSnapshot(filepath.Join(t.TempDir(), "missing", "snap"), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("error %v; want a snapshot error", err)
	}
}

// TestSnapshotImportsSerf: Serf's text snapshot is read, kept as .serf,
// and replaced by ours.
func TestSnapshotImportsSerf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	serf := "# serf\nalive: a 10.0.0.1:7946\nalive: b 10.0.0.2:7946\nnot-alive: b\nclock: 5\nevent-clock: 7\nquery-clock: 3\n"
	if err := os.WriteFile(path, []byte(serf), 0o600); err != nil {
		t.Fatal(err)
	}
	s, st, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	want := SnapshotState{Alive: map[string]string{"a": "10.0.0.1:7946"}, Clock: 5, EventClock: 7, QueryClock: 3}
	if !sameState(st, want) {
		t.Fatalf("imported %+v; want %+v", st, want)
	}
	s.close()
	if kept, _ := os.ReadFile(path + ".serf"); string(kept) != serf {
		t.Fatalf("Serf's snapshot not kept: %q", kept)
	}
	_, again, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil || !sameState(again, want) {
		t.Fatalf("reopened in our format: %+v, %v", again, err)
	}
}
