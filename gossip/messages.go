package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// messageType is the first byte of every gossip message; the values are
// Serf's and must never change.
type messageType uint8

const (
	msgLeave messageType = iota
	msgJoin
	msgPushPull
	msgUserEvent
	msgQuery
	msgQueryResponse
	msgConflictResponse
	msgKeyRequest
	msgKeyResponse
	msgRelay
)

var messageTypeNames = [...]string{
	msgLeave:            "leave",
	msgJoin:             "join",
	msgPushPull:         "push-pull",
	msgUserEvent:        "user-event",
	msgQuery:            "query",
	msgQueryResponse:    "query-response",
	msgConflictResponse: "conflict-response",
	msgKeyRequest:       "key-request",
	msgKeyResponse:      "key-response",
	msgRelay:            "relay",
}

func (t messageType) String() string {
	if int(t) < len(messageTypeNames) {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("unknown(%d)", uint8(t))
}

// Query flags, as Serf sets them.
const (
	queryFlagAck         uint32 = 1 << 0
	queryFlagNoBroadcast uint32 = 1 << 1
)

// Size limits on input from the network. memberlist already bounds packets by
// the UDP buffer size; these bound what a TCP stream can make us decode.
const (
	maxMessageSize  = 1 << 20  // any single gossip message
	maxPushPullSize = 32 << 20 // a whole push/pull state
)

// Sentinel errors for rejected gossip input; decode errors wrap one of them.
var (
	ErrEmptyMessage     = errors.New("empty message")
	ErrUnknownMessage   = errors.New("unknown message type")
	ErrMessageTooLarge  = errors.New("message too large")
	ErrMalformedMessage = errors.New("malformed message")
)

// The field names of these structs are the msgpack map keys on the wire:
// they match Serf's exactly.

type joinMessage struct {
	LTime LamportTime
	Node  string
}

type leaveMessage struct {
	LTime LamportTime
	Node  string
	Prune bool
}

type pushPullMessage struct {
	LTime        LamportTime
	StatusLTimes map[string]LamportTime
	LeftMembers  []string
	EventLTime   LamportTime
	Events       []*userEventBatch
	QueryLTime   LamportTime
}

// userEventBatch is one slot of the event buffer carried in push/pull.
type userEventBatch struct {
	LTime  LamportTime
	Events []userEventRecord
}

type userEventRecord struct {
	Name    string
	Payload []byte
}

type userEventMessage struct {
	LTime   LamportTime
	Name    string
	Payload []byte
	CC      bool
}

type queryMessage struct {
	LTime       LamportTime
	ID          uint32
	Addr        []byte
	Port        uint16
	SourceNode  string
	Filters     [][]byte
	Flags       uint32
	RelayFactor uint8
	Timeout     time.Duration
	Name        string
	Payload     []byte
}

type queryResponseMessage struct {
	LTime   LamportTime
	ID      uint32
	From    string
	Flags   uint32
	Payload []byte
}

type relayHeader struct {
	DestAddr net.UDPAddr
	DestName string
}

// wire encodes the way Serf's codec does: the default msgpack handle,
// which writes both strings and byte slices as msgpack raw strings.
// MaxInitLen bounds what a hostile length prefix can make us allocate up
// front. One handle serves every encoder and decoder: it is never changed
// after this, go-msgpack handles are safe for concurrent use, and each
// handle keeps its own cache of per-type codec functions, which a handle
// made per message would build again every time.
var wire = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.MaxInitLen = 4096
	return h
}()

// encodeMessage returns the type byte followed by msg in msgpack.
func encodeMessage(t messageType, msg any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(byte(t))
	if err := codec.NewEncoder(&buf, wire).Encode(msg); err != nil {
		return nil, fmt.Errorf("encode %s message: %w", t, err)
	}
	return buf.Bytes(), nil
}

// decodeBody decodes a msgpack body (without the type byte) into out.
func decodeBody(body []byte, out any) error {
	if err := codec.NewDecoderBytes(body, wire).Decode(out); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	return nil
}

// decodedMessage is one gossip message read off the network. Exactly one of
// the pointer fields is set, matching Type.
type decodedMessage struct {
	Type          messageType
	Join          *joinMessage
	Leave         *leaveMessage
	PushPull      *pushPullMessage
	UserEvent     *userEventMessage
	Query         *queryMessage
	QueryResponse *queryResponseMessage
	// Relay holds the header of a relay message; RelayPayload the wrapped
	// message to forward, untouched.
	Relay        *relayHeader
	RelayPayload []byte
}

// decodeConflictResponse reads the payload of an answer to a name-conflict
// query: the conflict-response type byte and the member the answering node
// knows under the name, nil if it knows none (Serf encodes a nil member).
// It is a query response payload, never a gossip message of its own.
func decodeConflictResponse(buf []byte) (m *conflictMember, err error) {
	if len(buf) == 0 || messageType(buf[0]) != msgConflictResponse {
		return nil, fmt.Errorf("%w: not a conflict response", ErrMalformedMessage)
	}
	if len(buf) > maxMessageSize {
		return nil, fmt.Errorf("%w: conflict response of %d bytes", ErrMessageTooLarge, len(buf))
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrMalformedMessage, r)
		}
	}()
	if err := decodeBody(buf[1:], &m); err != nil {
		return nil, err
	}
	return m, nil
}

// conflictMember is Serf's Member as a name-conflict answer carries it.
type conflictMember struct {
	Name                                  string
	Addr                                  []byte
	Port                                  uint16
	Tags                                  map[string]string
	Status                                int
	ProtocolMin, ProtocolMax, ProtocolCur uint8
	DelegateMin, DelegateMax, DelegateCur uint8
}

// decodeMessage parses one gossip message. It never panics on hostile input:
// every failure is an error wrapping one of the Err* sentinels.
func decodeMessage(buf []byte) (msg decodedMessage, err error) {
	if len(buf) == 0 {
		return msg, ErrEmptyMessage
	}
	msg.Type = messageType(buf[0])
	limit := maxMessageSize
	if msg.Type == msgPushPull {
		limit = maxPushPullSize
	}
	if len(buf) > limit {
		return msg, fmt.Errorf("%w: %s of %d bytes (limit %d)", ErrMessageTooLarge, msg.Type, len(buf), limit)
	}
	defer func() {
		// The codec is robust, but a bug in it must not take the node down.
		if r := recover(); r != nil {
			msg, err = decodedMessage{Type: msg.Type}, fmt.Errorf("%w: decoder panic: %v", ErrMalformedMessage, r)
		}
	}()
	body := buf[1:]
	switch msg.Type {
	case msgJoin:
		msg.Join = new(joinMessage)
		err = decodeBody(body, msg.Join)
	case msgLeave:
		msg.Leave = new(leaveMessage)
		err = decodeBody(body, msg.Leave)
	case msgPushPull:
		msg.PushPull = new(pushPullMessage)
		err = decodeBody(body, msg.PushPull)
	case msgUserEvent:
		msg.UserEvent = new(userEventMessage)
		err = decodeBody(body, msg.UserEvent)
	case msgQuery:
		msg.Query = new(queryMessage)
		err = decodeBody(body, msg.Query)
	case msgQueryResponse:
		msg.QueryResponse = new(queryResponseMessage)
		err = decodeBody(body, msg.QueryResponse)
	case msgRelay:
		msg.Relay = new(relayHeader)
		dec := codec.NewDecoderBytes(body, wire)
		if derr := dec.Decode(msg.Relay); derr != nil {
			return msg, fmt.Errorf("%w: relay header: %v", ErrMalformedMessage, derr)
		}
		msg.RelayPayload = body[dec.NumBytesRead():]
		if len(msg.RelayPayload) == 0 {
			return msg, fmt.Errorf("%w: relay without payload", ErrMalformedMessage)
		}
	default:
		return msg, fmt.Errorf("%w: %d", ErrUnknownMessage, buf[0])
	}
	if err != nil {
		return msg, fmt.Errorf("decode %s: %w", msg.Type, err)
	}
	return msg, nil
}
