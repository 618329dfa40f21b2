package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random gossip encryption key",
		Long: `Print a new gossip encryption key: 32 random bytes (AES-256), base64
encoded, for --encrypt, encrypt_key, a keyring file or "agent keys --install".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(key))
			return nil
		},
	}
}

func newKeysCmd(e env) *cobra.Command {
	var install, use, remove string
	var list bool
	cmd := &cobra.Command{
		Use:   "keys (--install KEY | --use KEY | --remove KEY | --list)",
		Short: "Install, switch, remove or list the cluster's gossip keys",
		Long: `Change or list the gossip encryption keys of every member of the cluster,
Serf agents included, through the running agent. Rotate a key in three steps:
--install the new key everywhere, --use it as the primary (the key that
encrypts), then --remove the old one. The primary key cannot be removed.

Every member answers; the command fails, naming each member that failed or
did not answer, unless all of them succeeded. The cluster must already
encrypt: keys cannot be installed on agents started without one (see
docs/encryption.md to switch a running cluster to encryption).`,
		Example: `  agent keys --install "$(agent keygen)"
  agent keys --use NEW_KEY
  agent keys --remove OLD_KEY
  agent keys --list`,
		Args: noArgs,
	}
	target := addRPCFlags(cmd, e)
	f := cmd.Flags()
	f.StringVar(&install, "install", "", "add `KEY` to every member's keyring")
	f.StringVar(&use, "use", "", "make `KEY` the primary key everywhere (it must be installed)")
	f.StringVar(&remove, "remove", "", "remove `KEY` from every member's keyring (not the primary key)")
	f.BoolVar(&list, "list", false, "list the keys installed in the cluster and how many members hold each")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var op, key string
		n := 0
		for _, o := range []struct {
			set     bool
			op, key string
		}{{install != "", "install-key", install}, {use != "", "use-key", use}, {remove != "", "remove-key", remove}, {list, "list-keys", ""}} {
			if o.set {
				op, key = o.op, o.key
				n++
			}
		}
		if n != 1 {
			return usageErrorf("agent keys needs exactly one of --install, --use, --remove and --list")
		}
		return target.withClient(cmd.Context(), func(c *rpc.Client) error {
			res, err := c.ModifyKeys(cmd.Context(), op, key)
			out := cmd.OutOrStdout()
			if op == "list-keys" && res.NumResp > 0 {
				printKeyList(out, res)
			}
			if len(res.Messages) > 0 {
				w := cmd.ErrOrStderr()
				for _, node := range slices.Sorted(maps.Keys(res.Messages)) {
					fmt.Fprintf(w, "%s: %s\n", node, res.Messages[node])
				}
			}
			if err != nil {
				return callError(op, err)
			}
			switch op {
			case "install-key":
				fmt.Fprintf(out, "Installed the key on %d of %d members\n", res.NumResp, res.NumNodes)
			case "use-key":
				fmt.Fprintf(out, "Made the key primary on %d of %d members\n", res.NumResp, res.NumNodes)
			case "remove-key":
				fmt.Fprintf(out, "Removed the key from %d of %d members\n", res.NumResp, res.NumNodes)
			}
			return nil
		})
	}
	return cmd
}

// printKeyList writes each key with the share of members holding it.
func printKeyList(w io.Writer, res rpc.KeyResult) {
	fmt.Fprintf(w, "Keys installed in the cluster (%d of %d members answered):\n", res.NumResp, res.NumNodes)
	for _, k := range slices.Sorted(maps.Keys(res.Keys)) {
		fmt.Fprintf(w, "  %s  [%d/%d]\n", k, res.Keys[k], res.NumNodes)
	}
}
