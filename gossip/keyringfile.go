package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/agentd/agent/internal/atomicfile"
)

// LoadKeyringFile reads a keyring file: a JSON list of base64 keys, the
// primary first (Serf's format). A missing file is reported with an error
// that wraps fs.ErrNotExist.
func LoadKeyringFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring file: %w", err)
	}
	var encoded []string
	if err := json.Unmarshal(data, &encoded); err != nil {
		return nil, fmt.Errorf("keyring file %s: want a JSON list of base64 keys: %w", path, err)
	}
	if len(encoded) == 0 {
		return nil, fmt.Errorf("keyring file %s: no keys", path)
	}
	keys := make([][]byte, 0, len(encoded))
	for i, s := range encoded {
		k, err := DecodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("keyring file %s: key %d: %w", path, i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// WriteKeyringFile replaces the keyring file with keys, the primary first,
// readable by the owner only; a crash leaves the old keyring or the new
// one, never a torn file.
func WriteKeyringFile(path string, keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("write keyring file: no keys")
	}
	encoded := make([]string, len(keys))
	for i, k := range keys {
		encoded[i] = EncodeKey(k)
	}
	data, err := json.MarshalIndent(encoded, "", "  ")
	if err != nil {
		return fmt.Errorf("write keyring file: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("keyring file: %w", err)
	}
	return nil
}
