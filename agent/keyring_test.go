package agent

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd/agent/gossip"
)

func TestGossipKeys(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 16)
	logger := slog.New(slog.DiscardHandler)

	t.Run("encrypt key alone", func(t *testing.T) {
		keys, err := gossipKeys(Config{EncryptKey: k1}, logger)
		if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], k1) {
			t.Fatalf("keys %v, %v; want k1", keys, err)
		}
	})
	t.Run("no key, no file", func(t *testing.T) {
		if keys, err := gossipKeys(Config{}, logger); err != nil || keys != nil {
			t.Fatalf("keys %v, %v; want none", keys, err)
		}
	})
	t.Run("missing file is created from the key, mode 0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keyring.json")
		keys, err := gossipKeys(Config{EncryptKey: k1, KeyringFile: path}, logger)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v", keys, err)
		}
		saved, err := gossip.LoadKeyringFile(path)
		if err != nil || len(saved) != 1 || !bytes.Equal(saved[0], k1) {
			t.Fatalf("file holds %v, %v; want k1", saved, err)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("file mode %v, %v; want 0600", st.Mode().Perm(), err)
		}
	})
	t.Run("an existing file wins over the key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keyring.json")
		if err := gossip.WriteKeyringFile(path, [][]byte{k2, k1}); err != nil {
			t.Fatal(err)
		}
		keys, err := gossipKeys(Config{EncryptKey: k1, KeyringFile: path}, logger)
		if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], k2) {
			t.Fatalf("keys %v, %v; want the file's, k2 first", keys, err)
		}
	})
	t.Run("missing file without a key: no encryption, no file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keyring.json")
		if keys, err := gossipKeys(Config{KeyringFile: path}, logger); err != nil || keys != nil {
			t.Fatalf("keys %v, %v; want none", keys, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("a keyring file was created without a key: %v", err)
		}
	})
	for _, tc := range []struct {
		name, content, want string
	}{
		{"corrupt file", "{not json", "JSON list"},
		{"wrong key length in file", `["AQID"]`, "3 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := gossipKeys(Config{EncryptKey: k1, KeyringFile: path}, logger)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to mention %q", err, tc.want)
			}
			if data, _ := os.ReadFile(path); string(data) != tc.content {
				t.Fatalf("the bad file was overwritten: %q", data)
			}
		})
	}
	t.Run("unwritable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes anywhere")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := gossipKeys(Config{EncryptKey: k1, KeyringFile: filepath.Join(dir, "keyring.json")}, logger)
		if err == nil || !strings.Contains(err.Error(), "create keyring file") {
			t.Fatalf("error %v; want a failure to create the keyring file", err)
		}
	})
	t.Run("directory that does not exist", func(t *testing.T) {
		_, err := gossipKeys(Config{EncryptKey: k1, KeyringFile: filepath.Join(t.TempDir(), "no", "such", "keyring.json")}, logger)
		if err == nil || !strings.Contains(err.Error(), "create keyring file") {
			t.Fatalf("error %v; want a failure to create the keyring file", err)
		}
	})
}

func TestResolveEncryptKey(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct{ key, want string }{
		{"not-base64!", "encrypt_key: key is not valid base64"},
		{"AQIDBA==", "encrypt_key: key is 4 bytes; want 16, 24 or 32"},
	} {
		if _, err := Resolve(&FileConfig{EncryptKey: s(tc.key)}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(encrypt_key %q) error %v; want %q", tc.key, err, tc.want)
		}
	}
	c, err := Resolve(&FileConfig{EncryptKey: s("5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=")})
	if err != nil || len(c.EncryptKey) != 32 || !c.EncryptVerifyIncoming || !c.EncryptVerifyOutgoing {
		t.Errorf("Resolve(valid key) = %d-byte key, verify %t/%t, %v; want 32 bytes, both verifications on", len(c.EncryptKey), c.EncryptVerifyIncoming, c.EncryptVerifyOutgoing, err)
	}
}
