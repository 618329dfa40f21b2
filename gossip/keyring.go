package gossip

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/agentd/agent/events"
	"github.com/hashicorp/memberlist"
)

// The internal queries that change or list every member's keyring, Serf's.
const (
	installKeyQuery = InternalQueryPrefix + "install-key"
	useKeyQuery     = InternalQueryPrefix + "use-key"
	removeKeyQuery  = InternalQueryPrefix + "remove-key"
	listKeysQuery   = InternalQueryPrefix + "list-keys"
)

// KeyOp is a cluster-wide keyring operation.
type KeyOp string

// The keyring operations, named as Serf's RPC commands.
const (
	KeyInstall KeyOp = "install-key"
	KeyUse     KeyOp = "use-key"
	KeyRemove  KeyOp = "remove-key"
	KeyList    KeyOp = "list-keys"
)

// ErrNoEncryption is the error of a keyring operation on a node that does
// not encrypt its gossip.
var ErrNoEncryption = errors.New("no keyring to modify (encryption not enabled)")

// keyRequestMessage is the payload of install-, use- and remove-key
// queries after the type byte: the raw key.
type keyRequestMessage struct {
	Key []byte
}

// keyResponseMessage is one node's answer to a key query.
type keyResponseMessage struct {
	Result     bool     // the operation succeeded there
	Message    string   // why it failed, or a notice
	Keys       []string // list-keys: the node's keys, base64
	PrimaryKey string   // list-keys: the node's primary key, base64
}

// KeyResponse gathers the members' answers to a keyring operation.
type KeyResponse struct {
	// Messages holds, per node, why the operation failed there or a
	// notice it sent.
	Messages map[string]string
	// Keys counts, per base64 key, the nodes that hold it (list-keys).
	Keys map[string]int
	// PrimaryKeys counts, per base64 key, the nodes using it as their
	// primary key (list-keys).
	PrimaryKeys map[string]int
	// NumNodes is how many members were asked, NumResp how many answered,
	// NumErr how many answered with a failure.
	NumNodes, NumResp, NumErr int
}

// DecodeKey reads a base64 gossip key and checks its length: 16, 24 or 32
// bytes select AES-128, -192 or -256.
func DecodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("key is not valid base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("key is %d bytes; want 16, 24 or 32 (generate one with `agent keygen`)", len(key))
}

// EncodeKey writes a key as base64.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// EncryptionEnabled reports whether this node encrypts its gossip.
func (n *Node) EncryptionEnabled() bool {
	return n.keyring != nil && len(n.keyring.GetKeys()) > 0
}

// LocalKeys returns this node's keys, the primary first, base64 encoded;
// nil when it does not encrypt.
func (n *Node) LocalKeys() []string {
	if n.keyring == nil {
		return nil
	}
	var out []string
	for _, k := range n.keyring.GetKeys() {
		out = append(out, EncodeKey(k))
	}
	return out
}

// ModifyKeys runs a keyring operation on every member, this one included,
// through Serf's internal key queries, and gathers the answers. key is the
// base64 key (ignored by KeyList). The error says how many members failed
// or did not answer; the response says which and why.
func (n *Node) ModifyKeys(ctx context.Context, op KeyOp, key string) (*KeyResponse, error) {
	resp := &KeyResponse{Messages: map[string]string{}, Keys: map[string]int{}, PrimaryKeys: map[string]int{}}
	var name string
	switch op {
	case KeyInstall:
		name = installKeyQuery
	case KeyUse:
		name = useKeyQuery
	case KeyRemove:
		name = removeKeyQuery
	case KeyList:
		name = listKeysQuery
	default:
		return resp, fmt.Errorf("unknown keyring operation %q", op)
	}
	var payload []byte
	if op != KeyList {
		raw, err := DecodeKey(key)
		if err != nil {
			return resp, fmt.Errorf("%s: %w", op, err)
		}
		if op == KeyRemove && n.keyring != nil && string(raw) == string(n.keyring.GetPrimaryKey()) {
			return resp, fmt.Errorf("%s: the key is this node's primary key; make another key primary first (use-key)", op)
		}
		if payload, err = encodeMessage(msgKeyRequest, &keyRequestMessage{Key: raw}); err != nil {
			return resp, fmt.Errorf("%s: %w", op, err)
		}
	} else {
		payload = []byte{byte(msgKeyRequest)}
	}
	r, err := n.query(name, payload, QueryParams{})
	if err != nil {
		return resp, fmt.Errorf("%s: %w", op, err)
	}
	defer r.Close()
	resp.NumNodes = len(r.Expected())
	for {
		select {
		case nr, ok := <-r.Responses():
			if !ok {
				return resp, keyOutcome(op, resp)
			}
			resp.NumResp++
			answer, err := decodeKeyResponse(nr.Payload)
			switch {
			case err != nil:
				resp.NumErr++
				resp.Messages[nr.From] = err.Error()
				continue
			case !answer.Result:
				resp.NumErr++
				resp.Messages[nr.From] = answer.Message
				continue
			case answer.Message != "":
				resp.Messages[nr.From] = answer.Message
			}
			for _, k := range answer.Keys {
				resp.Keys[k]++
			}
			if answer.PrimaryKey != "" {
				resp.PrimaryKeys[answer.PrimaryKey]++
			}
		case <-ctx.Done():
			return resp, fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
}

// keyOutcome is the error of a finished keyring operation, as Serf words
// it: failures first, then members that did not answer.
func keyOutcome(op KeyOp, resp *KeyResponse) error {
	if resp.NumErr > 0 {
		return fmt.Errorf("%s: %d/%d nodes reported failure", op, resp.NumErr, resp.NumNodes)
	}
	if resp.NumResp < resp.NumNodes {
		return fmt.Errorf("%s: %d/%d nodes reported success", op, resp.NumResp, resp.NumNodes)
	}
	return nil
}

func decodeKeyResponse(payload []byte) (keyResponseMessage, error) {
	var m keyResponseMessage
	if len(payload) == 0 || messageType(payload[0]) != msgKeyResponse {
		return m, errors.New("invalid key query response")
	}
	if err := decodeBody(payload[1:], &m); err != nil {
		return m, fmt.Errorf("invalid key query response: %w", err)
	}
	return m, nil
}

// answerKeyQuery carries out a peer's (or our own) keyring operation on
// this node's keyring, saves the keyring, and answers.
func (n *Node) answerKeyQuery(q *events.QueryEvent) {
	op := KeyOp(strings.TrimPrefix(q.Name, InternalQueryPrefix))
	answer := keyResponseMessage{}
	err := n.applyKeyOp(op, q.Payload, &answer)
	if err != nil {
		answer.Message = err.Error()
		n.logger.Error("keyring operation failed", "op", op, "err", err)
	} else {
		answer.Result = true
		if op != KeyList {
			n.logger.Info("keyring changed", "op", op)
		}
	}
	raw, err := n.encodeKeyAnswer(&answer)
	if err != nil {
		n.logger.Error("encode key query answer", "op", op, "err", err)
		return
	}
	if err := q.Respond(raw); err != nil {
		n.logger.Warn("answer key query", "op", op, "err", err)
	}
}

// applyKeyOp runs op on the local keyring; for KeyList it fills answer.
func (n *Node) applyKeyOp(op KeyOp, payload []byte, answer *keyResponseMessage) error {
	if !n.EncryptionEnabled() {
		return ErrNoEncryption
	}
	if op == KeyList {
		answer.Keys = n.LocalKeys()
		answer.PrimaryKey = EncodeKey(n.keyring.GetPrimaryKey())
		return nil
	}
	var req keyRequestMessage
	if len(payload) == 0 || messageType(payload[0]) != msgKeyRequest {
		return errors.New("malformed key request")
	}
	if err := decodeBody(payload[1:], &req); err != nil {
		return fmt.Errorf("malformed key request: %w", err)
	}
	var err error
	switch op {
	case KeyInstall:
		err = n.keyring.AddKey(req.Key)
	case KeyUse:
		err = n.keyring.UseKey(req.Key)
	case KeyRemove:
		err = n.keyring.RemoveKey(req.Key)
	default:
		return fmt.Errorf("unknown keyring operation %q", op)
	}
	if err != nil {
		return err
	}
	if n.cfg.KeyringFile == "" {
		return nil
	}
	if err := WriteKeyringFile(n.cfg.KeyringFile, n.keyring.GetKeys()); err != nil {
		return fmt.Errorf("the keyring changed but was not saved: %w", err)
	}
	return nil
}

// encodeKeyAnswer encodes a key query answer within the response size
// limit: a key list too long for it is cut, and the message says so.
func (n *Node) encodeKeyAnswer(answer *keyResponseMessage) ([]byte, error) {
	all := len(answer.Keys)
	for {
		raw, err := encodeMessage(msgKeyResponse, answer)
		if err != nil {
			return nil, err
		}
		// Measured as the response message that will carry it.
		wrapped, err := encodeMessage(msgQueryResponse, &queryResponseMessage{LTime: math.MaxUint64, ID: math.MaxUint32, From: n.cfg.NodeName, Payload: raw})
		if err != nil {
			return nil, err
		}
		if len(wrapped) <= n.cfg.QueryResponseSizeLimit || len(answer.Keys) == 0 {
			return raw, nil
		}
		answer.Keys = answer.Keys[:len(answer.Keys)-1]
		answer.Message = fmt.Sprintf("truncated key list response, showing first %d of %d keys", len(answer.Keys), all)
	}
}

// newKeyring builds memberlist's keyring from keys, the first primary;
// nil when there are none.
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	kr, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return kr, nil
}
