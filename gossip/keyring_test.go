package gossip_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/internal/testlog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// serfKeys returns a keyring's keys, base64, the primary first.
func serfKeys(kr *memberlist.Keyring) []string {
	var out []string
	for _, k := range kr.GetKeys() {
		out = append(out, b64(k))
	}
	return out
}

func TestKeyRotationAcrossOursAndSerf(t *testing.T) {
	k1, k2, k3 := newKey(t), newKey(t), newKey(t)
	dir := t.TempDir()
	keyringFile := filepath.Join(dir, "keyring.json")

	cfg := fastConfig(t, "ours-1")
	cfg.Keys = [][]byte{k1}
	cfg.KeyringFile = keyringFile
	ours, _ := startNode(t, cfg)
	cfg = fastConfig(t, "ours-2")
	cfg.Keys = [][]byte{k1}
	ours2, _ := startNode(t, cfg)

	var serfRings []*memberlist.Keyring
	var serfs []*serf.Serf
	for _, name := range []string{"serf-1", "serf-2"} {
		kr, err := memberlist.NewKeyring(nil, k1)
		if err != nil {
			t.Fatal(err)
		}
		serfRings = append(serfRings, kr)
		serfs = append(serfs, startSerfWith(t, name, nil, func(c *serf.Config) { c.MemberlistConfig.Keyring = kr }))
	}
	for _, addr := range []string{ours2.Addr(), serfAddr(serfs[0]), serfAddr(serfs[1])} {
		if _, err := ours.Join(context.Background(), []string{addr}, false); err != nil {
			t.Fatalf("join %s: %v", addr, err)
		}
	}
	waitFor(t, 10*time.Second, func() string {
		for _, n := range []*gossip.Node{ours, ours2} {
			if got := n.NumMembers(); got != 4 {
				return fmt.Sprintf("%s sees %d members; want 4", n.Name(), got)
			}
		}
		for _, s := range serfs {
			if got := s.NumNodes(); got != 4 {
				return fmt.Sprintf("a Serf node sees %d members; want 4", got)
			}
		}
		return ""
	})

	ctx := context.Background()
	run := func(op gossip.KeyOp, key string) *gossip.KeyResponse {
		t.Helper()
		resp, err := ours.ModifyKeys(ctx, op, key)
		if err != nil {
			t.Fatalf("%s: %v (messages %v)", op, err, resp.Messages)
		}
		if resp.NumNodes != 4 || resp.NumResp != 4 || resp.NumErr != 0 {
			t.Fatalf("%s: nodes %d, answers %d, failures %d; want 4, 4, 0", op, resp.NumNodes, resp.NumResp, resp.NumErr)
		}
		return resp
	}
	run(gossip.KeyInstall, b64(k2))
	if resp := run(gossip.KeyList, ""); resp.Keys[b64(k1)] != 4 || resp.Keys[b64(k2)] != 4 || resp.PrimaryKeys[b64(k1)] != 4 {
		t.Fatalf("after install: keys %v, primaries %v; want both keys and primary k1 on 4 nodes", resp.Keys, resp.PrimaryKeys)
	}
	run(gossip.KeyUse, b64(k2))
	run(gossip.KeyRemove, b64(k1))
	resp := run(gossip.KeyList, "")
	if len(resp.Keys) != 1 || resp.Keys[b64(k2)] != 4 || resp.PrimaryKeys[b64(k2)] != 4 {
		t.Fatalf("after use and remove: keys %v, primaries %v; want only k2, primary everywhere", resp.Keys, resp.PrimaryKeys)
	}
	for i, kr := range serfRings {
		if got := serfKeys(kr); !slices.Equal(got, []string{b64(k2)}) {
			t.Errorf("serf-%d keys %v; want only k2", i+1, got)
		}
	}
	saved, err := gossip.LoadKeyringFile(keyringFile)
	if err != nil || len(saved) != 1 || b64(saved[0]) != b64(k2) {
		t.Errorf("keyring file holds %d keys (%v); want only k2", len(saved), err)
	}
	if st, err := os.Stat(keyringFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("keyring file mode %v (%v); want 0600", st.Mode().Perm(), err)
	}

	// The primary key cannot be removed.
	if _, err := ours.ModifyKeys(ctx, gossip.KeyRemove, b64(k2)); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Errorf("removing the primary key: error %v; want a refusal naming the primary key", err)
	}
	// Bad keys are refused before anything is sent.
	for _, bad := range []string{"not base64!", b64([]byte("short"))} {
		if _, err := ours.ModifyKeys(ctx, gossip.KeyInstall, bad); err == nil {
			t.Errorf("install %q: no error", bad)
		}
	}

	// A Serf node drives a rotation that reaches ours and our keyring file.
	if _, err := serfs[0].KeyManager().InstallKey(b64(k3)); err != nil {
		t.Fatalf("serf install-key: %v", err)
	}
	if got := ours2.LocalKeys(); !slices.Contains(got, b64(k3)) {
		t.Errorf("ours-2 keys after Serf's install: %v; want k3 among them", got)
	}
	saved, err = gossip.LoadKeyringFile(keyringFile)
	if err != nil || len(saved) != 2 {
		t.Errorf("keyring file after Serf's install: %d keys (%v); want 2", len(saved), err)
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	var ownerLog testlog.Buffer
	cfg := fastConfig(t, "owner")
	cfg.Keys = [][]byte{newKey(t)}
	cfg.Logger = slog.New(slog.NewTextHandler(&ownerLog, nil))
	owner, _ := startNode(t, cfg)

	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"wrong-key", [][]byte{newKey(t)}},
		{"no-key", nil},
	} {
		cfg := fastConfig(t, tc.name)
		cfg.Keys = tc.keys
		stranger, _ := startNode(t, cfg)
		_, err := stranger.Join(context.Background(), []string{owner.Addr()}, false)
		if err == nil {
			t.Fatalf("%s joined an encrypted cluster", tc.name)
		}
		t.Logf("%s: %v", tc.name, err)
		if !strings.Contains(err.Error(), "crypt") {
			t.Errorf("%s: join error %q does not point at encryption", tc.name, err)
		}
	}
	waitFor(t, 10*time.Second, func() string {
		if log := ownerLog.String(); !strings.Contains(log, "decrypt") && !strings.Contains(log, "encrypt") {
			return "the owner's log does not say why it refused:\n" + log
		}
		return ""
	})
	if got := owner.NumMembers(); got != 1 {
		t.Errorf("owner has %d members; want 1", got)
	}
}

func TestKeyOpsWithoutEncryption(t *testing.T) {
	n, _ := startNode(t, fastConfig(t, "plain"))
	resp, err := n.ModifyKeys(context.Background(), gossip.KeyList, "")
	if err == nil || resp.NumErr != 1 || !strings.Contains(resp.Messages["plain"], "encryption not enabled") {
		t.Fatalf("list-keys without encryption: %v, %+v; want one failure saying encryption is not enabled", err, resp)
	}
}

func TestKeyringFile(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newKey(t), newKey(t)
	path := filepath.Join(dir, "keyring")
	if err := gossip.WriteKeyringFile(path, [][]byte{k1, k2}); err != nil {
		t.Fatal(err)
	}
	got, err := gossip.LoadKeyringFile(path)
	if err != nil || len(got) != 2 || b64(got[0]) != b64(k1) {
		t.Fatalf("round trip: %d keys, %v", len(got), err)
	}
	for _, tc := range []struct{ name, content, want string }{
		{"not json", "garbage", "JSON list"},
		{"empty list", "[]", "no keys"},
		{"bad base64", `["***"]`, "base64"},
		{"wrong length", `["` + b64([]byte("0123456789")) + `"]`, "10 bytes"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := gossip.LoadKeyringFile(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want it to mention %q", tc.name, err, tc.want)
		}
	}
}
