package rpc

import "time"

// IPC protocol versions this package speaks: Serf 0.10 knows only version 1.
const (
	minIPCVersion = 1
	maxIPCVersion = 1
)

// Command names, as Serf spells them on the wire.
const (
	cmdHandshake       = "handshake"
	cmdAuth            = "auth"
	cmdEvent           = "event"
	cmdForceLeave      = "force-leave"
	cmdJoin            = "join"
	cmdMembers         = "members"
	cmdMembersFiltered = "members-filtered"
	cmdStream          = "stream"
	cmdStop            = "stop"
	cmdMonitor         = "monitor"
	cmdLeave           = "leave"
	cmdInstallKey      = "install-key"
	cmdUseKey          = "use-key"
	cmdRemoveKey       = "remove-key"
	cmdListKeys        = "list-keys"
	cmdTags            = "tags"
	cmdQuery           = "query"
	cmdRespond         = "respond"
	cmdStats           = "stats"
	cmdGetCoordinate   = "get-coordinate"
)

// Wire records. Field names are the wire names: go-msgpack encodes a struct
// as a map keyed by field name, so they must not be renamed. Unknown fields
// in what we decode are ignored.

// requestHeader precedes every request.
type requestHeader struct {
	Command string
	Seq     uint64
}

// responseHeader precedes every response and every stream record.
type responseHeader struct {
	Seq   uint64
	Error string
}

type handshakeRequest struct {
	Version int32
}

type authRequest struct {
	AuthKey string
}

type eventRequest struct {
	Name     string
	Payload  []byte
	Coalesce bool
}

type forceLeaveRequest struct {
	Node  string
	Prune bool
}

type joinRequest struct {
	Existing []string
	Replay   bool
}

type joinResponse struct {
	Num int32
}

type membersFilteredRequest struct {
	Tags   map[string]string
	Status string
	Name   string
}

type membersResponse struct {
	Members []memberRecord
}

type keyRequest struct {
	Key string
}

type keyResponse struct {
	Messages map[string]string
	Keys     map[string]int
	NumNodes int
	NumErr   int
	NumResp  int
}

type monitorRequest struct {
	LogLevel string
}

type streamRequest struct {
	Type string
}

type stopRequest struct {
	Stop uint64
}

type tagsRequest struct {
	Tags       map[string]string
	DeleteTags []string
}

type queryRequest struct {
	FilterNodes []string
	FilterTags  map[string]string
	RequestAck  bool
	RelayFactor uint8
	Timeout     time.Duration // encoded as int64 nanoseconds
	Name        string
	Payload     []byte
}

type respondRequest struct {
	ID      uint64
	Payload []byte
}

type coordinateRequest struct {
	Node string
}

// coordinateRecord is Serf's coordinate.Coordinate (a Vivaldi coordinate).
type coordinateRecord struct {
	Vec        []float64
	Error      float64
	Adjustment float64
	Height     float64
}

type coordinateResponse struct {
	Coord coordinateRecord
	Ok    bool
}

// logRecord is one monitor line.
type logRecord struct {
	Log string
}

// memberRecord is a member as the IPC protocol carries it: Status is the
// status name ("alive"), Addr is 4 bytes for IPv4 and 16 for IPv6.
type memberRecord struct {
	Name        string
	Addr        []byte
	Port        uint16
	Tags        map[string]string
	Status      string
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// memberEventRecord is a stream record for a member-* event.
type memberEventRecord struct {
	Event   string
	Members []memberRecord
}

type userEventRecord struct {
	Event    string // "user"
	LTime    uint64
	Name     string
	Payload  []byte
	Coalesce bool
}

// streamRecord is the union of every stream record shape (member, user and
// query events); the client decodes into it and looks at Event.
type streamRecord struct {
	Event    string
	Members  []memberRecord // member-*
	LTime    uint64         // user, query
	Name     string         // user, query
	Payload  []byte         // user, query
	Coalesce bool           // user
	ID       uint64         // query: the handle for "respond"
}

// command describes one command: which body its request carries and which
// body its response carries. A nil constructor means "no body".
type command struct {
	name string
	// newRequest allocates the request body to decode into.
	newRequest func() any
	// newResponse allocates the (zero) response body. A response carries it
	// even when Error is set, except for the errors in noBodyError: Serf's
	// client reads a body for these commands whatever the Error.
	newResponse func() any
}

// lookupCommand returns the description of a command Serf 0.10 knows.
func lookupCommand(name string) (command, bool) {
	c := command{name: name}
	switch name {
	case cmdHandshake:
		c.newRequest = func() any { return new(handshakeRequest) }
	case cmdAuth:
		c.newRequest = func() any { return new(authRequest) }
	case cmdEvent:
		c.newRequest = func() any { return new(eventRequest) }
	case cmdForceLeave:
		c.newRequest = func() any { return new(forceLeaveRequest) }
	case cmdJoin:
		c.newRequest = func() any { return new(joinRequest) }
		c.newResponse = func() any { return new(joinResponse) }
	case cmdMembers:
		c.newResponse = func() any { return &membersResponse{Members: []memberRecord{}} }
	case cmdMembersFiltered:
		c.newRequest = func() any { return new(membersFilteredRequest) }
		c.newResponse = func() any { return &membersResponse{Members: []memberRecord{}} }
	case cmdStream:
		c.newRequest = func() any { return new(streamRequest) }
	case cmdStop:
		c.newRequest = func() any { return new(stopRequest) }
	case cmdMonitor:
		c.newRequest = func() any { return new(monitorRequest) }
	case cmdLeave:
	case cmdInstallKey, cmdUseKey, cmdRemoveKey:
		c.newRequest = func() any { return new(keyRequest) }
		c.newResponse = func() any { return new(keyResponse) }
	case cmdListKeys:
		c.newResponse = func() any { return new(keyResponse) }
	case cmdTags:
		c.newRequest = func() any { return new(tagsRequest) }
	case cmdQuery:
		c.newRequest = func() any { return new(queryRequest) }
	case cmdRespond:
		c.newRequest = func() any { return new(respondRequest) }
	case cmdStats:
		c.newResponse = func() any { return new(map[string]map[string]string) }
	case cmdGetCoordinate:
		c.newRequest = func() any { return new(coordinateRequest) }
		c.newResponse = func() any { return new(coordinateResponse) }
	default:
		return command{}, false
	}
	return c, true
}
