package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/agentd/agent/gossip"
)

// gossipKeys returns the encryption keys the agent starts with, the
// primary first. With a keyring file that exists, its keys; encrypt_key
// is then ignored (a warning says so when it is not the file's primary).
// With a keyring file that does not exist yet and encrypt_key, the file is
// created holding that key. Without a keyring file, encrypt_key alone.
// No keys: no encryption.
func gossipKeys(cfg Config, logger *slog.Logger) ([][]byte, error) {
	if cfg.KeyringFile == "" {
		if cfg.EncryptKey == nil {
			return nil, nil
		}
		return [][]byte{cfg.EncryptKey}, nil
	}
	keys, err := gossip.LoadKeyringFile(cfg.KeyringFile)
	switch {
	case err == nil:
		if cfg.EncryptKey != nil && !bytes.Equal(cfg.EncryptKey, keys[0]) {
			logger.Warn("encrypt_key ignored: the keyring file exists and its primary key is used", "keyring_file", cfg.KeyringFile)
		}
		return keys, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case cfg.EncryptKey == nil:
		logger.Info("keyring file does not exist and no encrypt_key is set: gossip is not encrypted", "keyring_file", cfg.KeyringFile)
		return nil, nil
	}
	keys = [][]byte{cfg.EncryptKey}
	if err := gossip.WriteKeyringFile(cfg.KeyringFile, keys); err != nil {
		return nil, fmt.Errorf("create keyring file from encrypt_key: %w", err)
	}
	logger.Info("keyring file created from encrypt_key", "keyring_file", cfg.KeyringFile)
	return keys, nil
}
