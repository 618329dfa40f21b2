package gossip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A snapshot file records what a node needs to come back after a restart
// or a crash: the members it last saw alive, its three Lamport clocks, and
// whether it left. It is a header and then records appended one write at a
// time:
//
//	header: "agent-snapshot" 0x00, format version (1 byte)
//	record: type (1 byte), payload length (uint32 LE), payload,
//	        CRC-32C of type, length and payload (uint32 LE)
//
// A crash can tear the last record, at any byte; reading stops at the
// first record that is short or fails its checksum, warns, and the file is
// cut back to the last good record before anything is appended. The file
// is rewritten with just the current state (a temporary file renamed over
// it) once it has grown well beyond that state.
const (
	snapshotMagic   = "agent-snapshot\x00"
	snapshotVersion = 1

	recAlive    byte = 1 // payload: name, 0x00, "ip:port"
	recNotAlive byte = 2 // payload: name
	recClocks   byte = 3 // payload: member, event, query clock (uint64 LE each)
	recLeave    byte = 4 // no payload: the node left the cluster

	maxRecordPayload = 64 << 10
	// A file is compacted when it passes compactMinSize and compactRatio
	// times the size of its state.
	compactMinSize = 128 << 10
	compactRatio   = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errSerfSnapshot marks a file in Serf's text format, which is imported.
var errSerfSnapshot = errors.New("serf snapshot")

// ErrSnapshotFormat is wrapped by the error for a file that is not a
// snapshot of a format this agent reads.
var ErrSnapshotFormat = errors.New("unsupported snapshot format")

// SnapshotState is what a snapshot file says about the node's past.
type SnapshotState struct {
	// Alive maps the members last seen alive to their "ip:port".
	Alive map[string]string
	// Clock, EventClock and QueryClock are the last recorded values.
	Clock, EventClock, QueryClock LamportTime
	// Left is set when the node's last act was a graceful leave.
	Left bool
}

func (s *SnapshotState) apply(typ byte, payload []byte) error {
	switch typ {
	case recAlive:
		name, addr, ok := bytes.Cut(payload, []byte{0})
		if !ok {
			return errors.New("alive record without an address")
		}
		s.Alive[string(name)] = string(addr)
		s.Left = false
	case recNotAlive:
		delete(s.Alive, string(payload))
	case recClocks:
		if len(payload) != 24 {
			return fmt.Errorf("clock record of %d bytes", len(payload))
		}
		s.Clock = max(s.Clock, LamportTime(binary.LittleEndian.Uint64(payload)))
		s.EventClock = max(s.EventClock, LamportTime(binary.LittleEndian.Uint64(payload[8:])))
		s.QueryClock = max(s.QueryClock, LamportTime(binary.LittleEndian.Uint64(payload[16:])))
	case recLeave:
		// The members are kept: RejoinAfterLeave may still want them.
		s.Left = true
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

// appendRecord appends one encoded record to buf.
func appendRecord(buf []byte, typ byte, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, typ)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = append(buf, payload...)
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf[start:], crcTable))
}

func clockPayload(c, e, q LamportTime) []byte {
	p := binary.LittleEndian.AppendUint64(nil, uint64(c))
	p = binary.LittleEndian.AppendUint64(p, uint64(e))
	return binary.LittleEndian.AppendUint64(p, uint64(q))
}

// encodeState writes a whole file holding st.
func encodeState(st *SnapshotState) []byte {
	buf := append([]byte(snapshotMagic), snapshotVersion)
	for _, name := range slices.Sorted(maps.Keys(st.Alive)) {
		buf = appendRecord(buf, recAlive, append([]byte(name+"\x00"), st.Alive[name]...))
	}
	buf = appendRecord(buf, recClocks, clockPayload(st.Clock, st.EventClock, st.QueryClock))
	if st.Left {
		buf = appendRecord(buf, recLeave, nil)
	}
	return buf
}

// readSnapshot replays a snapshot file. It returns the state, the length
// of the good prefix (where appends must start), and a description of
// what was dropped after it ("" when nothing was).
func readSnapshot(r io.Reader) (st SnapshotState, good int64, dropped string, err error) {
	st.Alive = map[string]string{}
	br := bufio.NewReader(r)
	head := make([]byte, len(snapshotMagic)+1)
	n, err := io.ReadFull(br, head)
	switch {
	case n == 0 && err == io.EOF:
		return st, 0, "", nil // empty: a new file
	case err != nil || string(head[:len(snapshotMagic)]) != snapshotMagic:
		if n < len(head) && bytes.HasPrefix([]byte(snapshotMagic), head[:n]) {
			// A crash while the header was written: start afresh.
			return st, 0, fmt.Sprintf("a torn header of %d bytes", n), nil
		}
		if serf, ok := readSerfSnapshot(head[:n], br); ok {
			return serf, 0, "", errSerfSnapshot
		}
		return st, 0, "", fmt.Errorf("%w: not an agent snapshot", ErrSnapshotFormat)
	case head[len(head)-1] != snapshotVersion:
		return st, 0, "", fmt.Errorf("%w: format version %d, this agent reads version %d", ErrSnapshotFormat, head[len(head)-1], snapshotVersion)
	}
	good = int64(len(head))
	hdr := make([]byte, 5)
	for {
		n, err := io.ReadFull(br, hdr)
		if n == 0 && err == io.EOF {
			return st, good, "", nil
		}
		if err != nil {
			return st, good, fmt.Sprintf("a torn record at byte %d", good), nil
		}
		size := binary.LittleEndian.Uint32(hdr[1:])
		if size > maxRecordPayload {
			return st, good, fmt.Sprintf("a corrupt record at byte %d (length %d)", good, size), nil
		}
		rest := make([]byte, size+4)
		if _, err := io.ReadFull(br, rest); err != nil {
			return st, good, fmt.Sprintf("a torn record at byte %d", good), nil
		}
		sum := crc32.Update(crc32.Checksum(hdr, crcTable), crcTable, rest[:size])
		if sum != binary.LittleEndian.Uint32(rest[size:]) {
			return st, good, fmt.Sprintf("a record failing its checksum at byte %d", good), nil
		}
		if err := st.apply(hdr[0], rest[:size]); err != nil {
			return st, good, fmt.Sprintf("a bad record at byte %d: %v", good, err), nil
		}
		good += int64(len(hdr)) + int64(size) + 4
	}
}

// snapshotter appends a node's changes to its snapshot file. Its methods
// are safe for concurrent use; a failed write is logged (once per kind of
// failure) and the node carries on without it.
type snapshotter struct {
	path   string
	logger *slog.Logger

	mu       sync.Mutex
	f        *os.File
	size     int64
	state    SnapshotState
	recorded [3]LamportTime // clocks last written
	dirty    bool           // written since the last fsync
	failing  bool           // the last write failed (logged once)
}

// openSnapshot reads the snapshot at path (creating it if missing), cuts
// a torn tail, and opens it for appending.
func openSnapshot(path string, logger *slog.Logger) (*snapshotter, SnapshotState, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, SnapshotState{}, fmt.Errorf("snapshot: %w", err)
	}
	st, good, dropped, err := readSnapshot(f)
	if errors.Is(err, errSerfSnapshot) {
		// Keep Serf's file beside ours, then continue from its state.
		backup := path + ".serf"
		if err := copyFile(path, backup); err != nil {
			f.Close()
			return nil, SnapshotState{}, fmt.Errorf("snapshot %s: keep Serf's snapshot as %s: %w", path, backup, err)
		}
		logger.Info("snapshot: imported Serf's snapshot; the original is kept", "path", path, "serf_copy", backup, "alive_members", len(st.Alive))
		good, err = 0, nil
	}
	if err != nil {
		f.Close()
		return nil, SnapshotState{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if dropped != "" {
		logger.Warn("snapshot: ignoring the end of the file (written during a crash?)", "path", path, "dropped", dropped, "kept_bytes", good)
	}
	s := &snapshotter{path: path, logger: logger, f: f, state: st}
	s.recorded = [3]LamportTime{st.Clock, st.EventClock, st.QueryClock}
	if good == 0 {
		// New, torn within the header, or Serf's: write a fresh file.
		if err := s.rewriteLocked(); err != nil {
			f.Close()
			return nil, SnapshotState{}, err
		}
		return s, cloneState(st), nil
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, SnapshotState{}, fmt.Errorf("snapshot %s: cut the torn end: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, SnapshotState{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	s.size = good
	return s, cloneState(st), nil
}

func cloneState(st SnapshotState) SnapshotState {
	st.Alive = maps.Clone(st.Alive)
	return st
}

// alive records that a member is alive at addr ("ip:port").
func (s *snapshotter) alive(name, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Alive[name] == addr && !s.state.Left {
		return
	}
	s.appendLocked(recAlive, append([]byte(name+"\x00"), addr...))
}

// notAlive records that a member failed, left or was removed.
func (s *snapshotter) notAlive(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.state.Alive[name]; !ok {
		return
	}
	s.appendLocked(recNotAlive, []byte(name))
}

// clocks records the clocks if any moved since the last record. It is
// called before an event or query is delivered, so that after a crash the
// node refuses it as old rather than running it again.
func (s *snapshotter) clocks(c, e, q LamportTime) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c <= s.recorded[0] && e <= s.recorded[1] && q <= s.recorded[2] {
		return
	}
	s.recorded = [3]LamportTime{max(c, s.recorded[0]), max(e, s.recorded[1]), max(q, s.recorded[2])}
	s.appendLocked(recClocks, clockPayload(s.recorded[0], s.recorded[1], s.recorded[2]))
}

// leave records a graceful leave and flushes it to disk.
func (s *snapshotter) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLocked(recLeave, nil)
	s.syncLocked()
}

func (s *snapshotter) appendLocked(typ byte, payload []byte) {
	if s.f == nil {
		return
	}
	if err := s.state.apply(typ, payload); err != nil {
		s.logger.Error("snapshot: bad record not written", "err", err)
		return
	}
	rec := appendRecord(nil, typ, payload)
	// One write: a crash tears at most this record, which the checksum
	// catches on the next start.
	n, err := s.f.Write(rec)
	s.size += int64(n)
	if err != nil {
		s.fail("write", err)
		return
	}
	s.dirty = true
	if s.failing {
		s.failing = false
		s.logger.Info("snapshot: writing again", "path", s.path)
	}
	if s.size > compactMinSize && s.size > compactRatio*int64(len(encodeState(&s.state))) {
		if err := s.rewriteLocked(); err != nil {
			s.fail("compact", err)
		}
	}
}

func (s *snapshotter) fail(what string, err error) {
	if !s.failing {
		s.logger.Error("snapshot: "+what+" failed; a restart may rejoin stale members or lose recent clocks", "path", s.path, "err", err)
	}
	s.failing = true
}

// rewriteLocked replaces the file with one holding only the state: a
// temporary file, synced, renamed over the old one.
func (s *snapshotter) rewriteLocked() error {
	data := encodeState(&s.state)
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	if _, err := tmp.Seek(0, io.SeekEnd); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.size, s.dirty = tmp, int64(len(data)), false
	return nil
}

// sync flushes recent records to stable storage.
func (s *snapshotter) sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
}

func (s *snapshotter) syncLocked() {
	if s.f == nil || !s.dirty {
		return
	}
	if err := s.f.Sync(); err != nil {
		s.fail("sync", err)
		return
	}
	s.dirty = false
}

// close syncs and closes the file.
func (s *snapshotter) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLocked()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// snapshotSyncInterval is how often recent records are synced to disk
// (records reach the kernel at once, so only a machine crash can lose
// what was written since).
const snapshotSyncInterval = time.Second

// readSerfSnapshot reads Serf's text snapshot (lines "alive: NAME ADDR",
// "not-alive: NAME", "clock: N", "event-clock: N", "query-clock: N",
// "leave", and # comments), given its first bytes and the rest. ok is
// false when the input is not in that format.
func readSerfSnapshot(head []byte, rest io.Reader) (st SnapshotState, ok bool) {
	st.Alive = map[string]string{}
	sc := bufio.NewScanner(io.MultiReader(bytes.NewReader(head), rest))
	lines := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		key, val, _ := strings.Cut(line, ": ")
		switch key {
		case "alive":
			name, addr, found := strings.Cut(val, " ")
			if !found {
				return st, false
			}
			st.Alive[name] = addr
			st.Left = false
		case "not-alive":
			delete(st.Alive, val)
		case "clock", "event-clock", "query-clock":
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return st, false
			}
			switch key {
			case "clock":
				st.Clock = max(st.Clock, LamportTime(v))
			case "event-clock":
				st.EventClock = max(st.EventClock, LamportTime(v))
			default:
				st.QueryClock = max(st.QueryClock, LamportTime(v))
			}
		case "leave":
			st.Left = true
		default:
			return st, false
		}
	}
	return st, sc.Err() == nil && lines > 0
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
