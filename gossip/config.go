package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/agentd/agent/events"
	"github.com/hashicorp/memberlist"
)

// Gossip protocol versions we speak (Serf's delegate protocol versions).
const (
	ProtocolMin     uint8 = 2
	ProtocolMax     uint8 = 5
	ProtocolDefault uint8 = 5
	// memberlistProtocol is the memberlist protocol Serf pairs with every
	// one of its protocol versions.
	memberlistProtocol uint8 = 2
)

// Profile names select memberlist's timing presets.
const (
	ProfileLAN   = "lan"
	ProfileWAN   = "wan"
	ProfileLocal = "local"
)

// Timing holds memberlist's timing knobs. DefaultConfig fills them from the
// chosen profile; any of them can then be overridden.
type Timing struct {
	// ProbeInterval is the time between failure-detection probes.
	ProbeInterval time.Duration
	// ProbeTimeout is how long to wait for a probe's ack (about the RTT).
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect node has to refute:
	// SuspicionMult x log10(N+1) x ProbeInterval.
	SuspicionMult int
	// SuspicionMaxTimeoutMult caps the suspicion timeout at this multiple of
	// the minimum while few peers have confirmed the suspicion.
	SuspicionMaxTimeoutMult int
	// GossipInterval is the time between gossip rounds.
	GossipInterval time.Duration
	// GossipNodes is how many random members each gossip round sends to.
	GossipNodes int
	// GossipToTheDeadTime is how long dead nodes still receive gossip.
	GossipToTheDeadTime time.Duration
	// PushPullInterval is the time between full state exchanges with a
	// random member; memberlist stretches it as the cluster grows.
	PushPullInterval time.Duration
	// RetransmitMult: each broadcast is sent RetransmitMult x log10(N+1) times.
	RetransmitMult int
	// IndirectChecks is how many members are asked to probe a node that
	// missed a direct probe.
	IndirectChecks int
	// TCPTimeout bounds stream connections (push/pull, TCP pings).
	TCPTimeout time.Duration
}

// ProfileTiming returns memberlist's timing preset for a profile name.
func ProfileTiming(profile string) (Timing, error) {
	var mc *memberlist.Config
	switch profile {
	case ProfileLAN, "":
		mc = memberlist.DefaultLANConfig()
	case ProfileWAN:
		mc = memberlist.DefaultWANConfig()
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
	default:
		return Timing{}, fmt.Errorf("unknown profile %q (want lan, wan or local)", profile)
	}
	return Timing{
		ProbeInterval:           mc.ProbeInterval,
		ProbeTimeout:            mc.ProbeTimeout,
		SuspicionMult:           mc.SuspicionMult,
		SuspicionMaxTimeoutMult: mc.SuspicionMaxTimeoutMult,
		GossipInterval:          mc.GossipInterval,
		GossipNodes:             mc.GossipNodes,
		GossipToTheDeadTime:     mc.GossipToTheDeadTime,
		PushPullInterval:        mc.PushPullInterval,
		RetransmitMult:          mc.RetransmitMult,
		IndirectChecks:          mc.IndirectChecks,
		TCPTimeout:              mc.TCPTimeout,
	}, nil
}

// MaxLabelLength is the longest cluster label memberlist can carry.
const MaxLabelLength = 255

// Config configures a Node. Start from DefaultConfig and change fields;
// every field of DefaultConfig's result is meaningful, so there is no
// "zero means default" merging.
type Config struct {
	// NodeName is the unique name of this node in the cluster.
	NodeName string
	// BindAddr and BindPort are where memberlist listens (UDP and TCP).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what peers are told to use; empty
	// and 0 mean "derive from the bind address".
	AdvertiseAddr string
	AdvertisePort int
	// Tags are this node's tags, carried as memberlist node meta.
	Tags map[string]string
	// Protocol is the gossip protocol version we speak (ProtocolMin..ProtocolMax).
	Protocol uint8
	// Profile names the timing preset Timing was filled from (informative).
	Profile string
	// Timing holds memberlist's timing knobs.
	Timing Timing
	// Label is memberlist's cluster label: packets and streams with another
	// label are refused, so two clusters never merge by accident. At most
	// MaxLabelLength bytes.
	Label string
	// Keys are the gossip encryption keys (16, 24 or 32 bytes each), the
	// first the primary one, used to send; any of them may decrypt. None
	// means no encryption. Keyring operations change them at run time.
	Keys [][]byte
	// KeyringFile, if set, is rewritten (mode 0600) after every keyring
	// change, so that a restart keeps the keys.
	KeyringFile string
	// EncryptVerifyIncoming refuses unencrypted input when keys are set;
	// EncryptVerifyOutgoing encrypts output. Both are on by default; turn
	// them off to switch a running cluster to encryption without an
	// outage (docs/encryption.md).
	EncryptVerifyIncoming, EncryptVerifyOutgoing bool
	// RepairRounds and RepairInterval pace the extra push/pull exchanges a
	// node makes after membership changes (see repair.go): one every
	// interval while changes come (backing off to 16 intervals when they
	// keep coming) and for RepairRounds intervals after; the push/pull
	// that fetches missed user events is paced by RepairInterval too.
	// Zero turns all repairs off, also the resending of a query asked with
	// acks to the members that have not acknowledged it (queryrepair.go).
	RepairRounds   int
	RepairInterval time.Duration
	// DisableCoordinates turns off Vivaldi network coordinates: none are
	// computed, sent on ping acks, or read from peers'.
	DisableCoordinates bool
	// ValidateNodeNames restricts node names to letters, digits, '-' and
	// '.' (Serf's validate_node_names); any name is checked for length and
	// control characters.
	ValidateNodeNames bool
	// SnapshotPath, if set, is the file that keeps the members last seen
	// alive and the clocks across restarts and crashes (see snapshot.go).
	SnapshotPath string
	// RejoinAfterLeave rejoins the snapshot's members even after a
	// graceful leave (Serf's rejoin_after_leave).
	RejoinAfterLeave bool
	// Compression compresses every gossip packet and push/pull exchange
	// with LZW (memberlist's EnableCompression; Serf's enable_compression).
	// Peers read compressed and plain messages alike, so members may
	// differ.
	Compression bool

	// QuerySizeLimit bounds an encoded query (query_size_limit).
	QuerySizeLimit int
	// QueryResponseSizeLimit bounds an encoded query response
	// (query_response_size_limit); a larger answer is an error for the
	// responder.
	QueryResponseSizeLimit int
	// UserEventSizeLimit bounds a user event: its name and payload together,
	// and its encoded message (Serf's user_event_size_limit). At most
	// MaxUserEventSizeLimit.
	UserEventSizeLimit int
	// BroadcastTimeout bounds how long Leave and ForceLeave wait for their
	// intent to be sent, and how long SetTags waits for the update.
	BroadcastTimeout time.Duration
	// LeavePropagateDelay is how long Leave waits after memberlist's leave so
	// the news can spread before the node stops answering.
	LeavePropagateDelay time.Duration
	// ReapInterval is how often failed and left members are checked for reaping.
	ReapInterval time.Duration
	// ReconnectInterval is how often a failed member is retried.
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long a failed member is kept (and retried)
	// before it is reaped.
	ReconnectTimeout time.Duration
	// TombstoneTimeout is how long a left member is kept before it is reaped.
	TombstoneTimeout time.Duration
	// RecentIntentTimeout is how long an intent about an unknown node is kept.
	RecentIntentTimeout time.Duration
	// FlapTimeout: a failed member that comes back within it counts as a flap.
	FlapTimeout time.Duration
	// QueueCheckInterval is how often broadcast queues are checked against
	// QueueDepthWarning and MaxQueueDepth.
	QueueCheckInterval time.Duration
	// QueueDepthWarning is the queue depth that logs a warning.
	QueueDepthWarning int
	// MaxQueueDepth is the queue depth beyond which the oldest broadcasts are
	// dropped; the effective limit is at least twice the member count.
	MaxQueueDepth int
	// EventBufferSize is how many events wait for a slow consumer of Events
	// before the oldest are dropped (and counted).
	EventBufferSize int

	// Events receives membership events, in order. Nil discards them. The
	// node never blocks gossip on a slow reader: see EventBufferSize.
	Events chan<- events.Event
	// Logger receives our logs and memberlist's. Nil discards them.
	Logger *slog.Logger
	// Transport replaces memberlist's UDP/TCP transport (tests use an
	// in-memory one). Nil means the real network on BindAddr:BindPort.
	Transport memberlist.NodeAwareTransport
	// Now returns the current time; tests inject a fake clock.
	Now func() time.Time
	// Memberlist, if set, is called on the memberlist configuration just
	// before it is used, for settings this Config does not expose (keys).
	Memberlist func(*memberlist.Config)
}

// DefaultConfig returns Serf's defaults with the LAN profile: bind
// 0.0.0.0:7946, node name = host name, protocol 5.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	timing, _ := ProfileTiming(ProfileLAN)
	return Config{
		NodeName:               host,
		BindAddr:               "0.0.0.0",
		BindPort:               7946,
		Tags:                   map[string]string{},
		Protocol:               ProtocolDefault,
		Profile:                ProfileLAN,
		Timing:                 timing,
		Compression:            true,
		EncryptVerifyIncoming:  true,
		RepairRounds:           3,
		RepairInterval:         time.Second,
		EncryptVerifyOutgoing:  true,
		UserEventSizeLimit:     512,
		QuerySizeLimit:         1024,
		QueryResponseSizeLimit: 1024,
		BroadcastTimeout:       5 * time.Second,
		LeavePropagateDelay:    time.Second,
		ReapInterval:           15 * time.Second,
		ReconnectInterval:      30 * time.Second,
		ReconnectTimeout:       24 * time.Hour,
		TombstoneTimeout:       24 * time.Hour,
		RecentIntentTimeout:    5 * time.Minute,
		FlapTimeout:            60 * time.Second,
		QueueCheckInterval:     30 * time.Second,
		QueueDepthWarning:      128,
		MaxQueueDepth:          4096,
		EventBufferSize:        4096,
		Now:                    time.Now,
	}
}

// SetProfile replaces Timing with the named profile's preset.
func (c *Config) SetProfile(profile string) error {
	t, err := ProfileTiming(profile)
	if err != nil {
		return err
	}
	c.Profile, c.Timing = profile, t
	return nil
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := ValidateNodeName(c.NodeName, c.ValidateNodeNames); err != nil {
		errs = append(errs, err)
	}
	if c.Transport == nil && net.ParseIP(c.BindAddr) == nil {
		bad("bind address %q is not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		bad("bind port %d out of range 0-65535", c.BindPort)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		bad("advertise address %q is not an IP address", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("advertise port %d out of range 0-65535", c.AdvertisePort)
	}
	if c.Protocol < ProtocolMin || c.Protocol > ProtocolMax {
		bad("protocol %d out of range %d-%d", c.Protocol, ProtocolMin, ProtocolMax)
	}
	if _, err := EncodeTags(c.Tags, c.Protocol); err != nil {
		errs = append(errs, err)
	}
	t := c.Timing
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"probe interval", t.ProbeInterval}, {"probe timeout", t.ProbeTimeout},
		{"gossip interval", t.GossipInterval}, {"push/pull interval", t.PushPullInterval},
		{"tcp timeout", t.TCPTimeout}, {"broadcast timeout", c.BroadcastTimeout},
		{"reap interval", c.ReapInterval}, {"reconnect interval", c.ReconnectInterval},
		{"reconnect timeout", c.ReconnectTimeout}, {"tombstone timeout", c.TombstoneTimeout},
		{"recent intent timeout", c.RecentIntentTimeout}, {"queue check interval", c.QueueCheckInterval},
	} {
		if d.v <= 0 {
			bad("%s must be positive, got %s", d.name, d.v)
		}
	}
	if c.LeavePropagateDelay < 0 || t.GossipToTheDeadTime < 0 || c.FlapTimeout < 0 {
		bad("leave propagate delay, gossip-to-the-dead time and flap timeout must not be negative")
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"suspicion multiplier", t.SuspicionMult}, {"suspicion max timeout multiplier", t.SuspicionMaxTimeoutMult},
		{"gossip nodes", t.GossipNodes}, {"retransmit multiplier", t.RetransmitMult},
		{"max queue depth", c.MaxQueueDepth}, {"event buffer size", c.EventBufferSize},
		{"query size limit", c.QuerySizeLimit}, {"query response size limit", c.QueryResponseSizeLimit},
		{"queue depth warning", c.QueueDepthWarning},
	} {
		if n.v <= 0 {
			bad("%s must be positive, got %d", n.name, n.v)
		}
	}
	if t.IndirectChecks < 0 {
		bad("indirect checks must not be negative, got %d", t.IndirectChecks)
	}
	if c.UserEventSizeLimit <= 0 || c.UserEventSizeLimit > MaxUserEventSizeLimit {
		bad("user event size limit must be 1-%d bytes, got %d", MaxUserEventSizeLimit, c.UserEventSizeLimit)
	}
	for i, k := range c.Keys {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			bad("encryption key %d is %d bytes; want 16, 24 or 32", i+1, l)
		}
	}
	if len(c.Label) > MaxLabelLength {
		bad("cluster label is %d bytes, over the limit of %d", len(c.Label), MaxLabelLength)
	}
	if c.Now == nil {
		bad("clock (Now) is nil")
	}
	return errors.Join(errs...)
}

// memberlistConfig builds memberlist's configuration; the delegates are set
// by the caller.
func (c *Config) memberlistConfig(logger *slog.Logger) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeName
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort
	if c.AdvertisePort == 0 {
		mc.AdvertisePort = c.BindPort
	}
	mc.ProtocolVersion = memberlistProtocol
	mc.DelegateProtocolMin = ProtocolMin
	mc.DelegateProtocolMax = ProtocolMax
	mc.DelegateProtocolVersion = c.Protocol
	t := c.Timing
	mc.ProbeInterval = t.ProbeInterval
	mc.ProbeTimeout = t.ProbeTimeout
	mc.SuspicionMult = t.SuspicionMult
	mc.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	mc.GossipInterval = t.GossipInterval
	mc.GossipNodes = t.GossipNodes
	mc.GossipToTheDeadTime = t.GossipToTheDeadTime
	mc.PushPullInterval = t.PushPullInterval
	mc.RetransmitMult = t.RetransmitMult
	mc.IndirectChecks = t.IndirectChecks
	mc.TCPTimeout = t.TCPTimeout
	mc.Label = c.Label
	mc.EnableCompression = c.Compression
	mc.GossipVerifyIncoming = c.EncryptVerifyIncoming
	mc.GossipVerifyOutgoing = c.EncryptVerifyOutgoing
	mc.Logger = newMemberlistLogger(logger)
	if c.Transport != nil {
		mc.Transport = c.Transport
	}
	if c.Memberlist != nil {
		c.Memberlist(mc)
	}
	return mc
}
