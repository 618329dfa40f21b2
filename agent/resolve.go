package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentd/agent/events"
	"github.com/agentd/agent/gossip"
	"github.com/agentd/agent/handlers"
	"github.com/agentd/agent/rpc"
)

// Default addresses, as Serf's.
const (
	DefaultBindPort = 7946
	DefaultRPCAddr  = "127.0.0.1:7373"
)

// Config is the agent's resolved configuration: defaults, then the config
// files, then the flags.
type Config struct {
	NodeName      string
	Tags          map[string]string
	TagsFile      string
	BindAddr      string // IP
	BindPort      int
	Interface     string
	AdvertiseAddr string // IP, or empty
	AdvertisePort int    // 0: the bind port
	RPCAddr       string
	RPCAuthKey    string
	Profile       string
	Protocol      uint8
	LogLevel      string // trace, debug, info, warn, err
	LogJSON       bool
	StartJoin     []string
	// RetryJoin addresses are tried in the background every RetryInterval
	// until one answers, at most RetryMaxAttempts times (0: no limit).
	RetryJoin        []string
	RetryInterval    time.Duration
	RetryMaxAttempts int
	ReplayOnJoin     bool
	EventHandlers    []string
	// Handlers are EventHandlers parsed.
	Handlers []handlers.Spec
	// MemberCoalesce and UserCoalesce time the merging of bursts of
	// member events and of coalescable user events before handlers and
	// streams see them.
	MemberCoalesce, UserCoalesce events.CoalesceConfig
	// HandlerTimeout bounds one handler run (handler_timeout, default 60s).
	HandlerTimeout   time.Duration
	LeaveOnTerm      bool
	SkipLeaveOnInt   bool
	BroadcastTimeout time.Duration
	// ReconnectInterval, ReconnectTimeout and TombstoneTimeout are zero
	// when unset: the gossip layer's defaults then apply.
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration
	TombstoneTimeout  time.Duration
	// UserEventSizeLimit bounds a user event's name and payload, and its
	// encoded message (user_event_size_limit: default 512, at most 9216).
	UserEventSizeLimit int
	// QuerySizeLimit and QueryResponseSizeLimit bound an encoded query and
	// an encoded response (query_size_limit, query_response_size_limit:
	// default 1024, at most 9216).
	QuerySizeLimit, QueryResponseSizeLimit int
	// Discover names the cluster to find on the local network with mDNS
	// (discover, --discover); MDNSInterface, MDNSDisableIPv4 and
	// MDNSDisableIPv6 come from the mdns block.
	Discover                         string
	MDNSInterface                    string
	MDNSDisableIPv4, MDNSDisableIPv6 bool
	// StatsdAddr and StatsiteAddr receive metrics over UDP/TCP;
	// MetricsAddr serves them to Prometheus at /metrics.
	StatsdAddr, StatsiteAddr, MetricsAddr string
	// DisableCoordinates turns Vivaldi coordinates off (disable_coordinates).
	DisableCoordinates bool
	// ValidateNodeNames limits node names to host-name characters
	// (validate_node_names).
	ValidateNodeNames bool
	// Compression compresses gossip (enable_compression, --disable-compression).
	Compression bool
	// SnapshotPath keeps members and clocks across restarts (snapshot_path,
	// --snapshot); RejoinAfterLeave rejoins even after a graceful leave
	// (rejoin_after_leave, --rejoin).
	SnapshotPath     string
	RejoinAfterLeave bool
	// RPCTLSCertFile and RPCTLSKeyFile put the RPC listener behind TLS;
	// with RPCTLSCAFile, clients must present a certificate it signed.
	RPCTLSCertFile, RPCTLSKeyFile, RPCTLSCAFile string
	// EncryptKey is the decoded encrypt_key (--encrypt); nil when unset.
	EncryptKey []byte
	// KeyringFile holds the keys and is rewritten on every keyring change
	// (keyring_file, --keyring-file).
	KeyringFile string
	// EncryptVerifyIncoming and EncryptVerifyOutgoing, both true unless
	// set false, refuse plain input and encrypt output (the switch to
	// encryption turns them on one after the other).
	EncryptVerifyIncoming, EncryptVerifyOutgoing bool
	// ClusterLabel is sent with every packet and stream; peers with another
	// label are refused (cluster_label, --cluster-label).
	ClusterLabel string

	// File is the merged file-and-flag layer this was resolved from, kept
	// for the settings later layers (events, keys, snapshots) act on.
	File *FileConfig
}

// logLevels maps accepted spellings (Serf's upper-case ones too) to ours.
var logLevels = map[string]string{
	"trace": "trace", "debug": "debug", "info": "info",
	"warn": "warn", "warning": "warn", "err": "err", "error": "err",
}

// ParseLogLevel normalizes a log level name.
func ParseLogLevel(s string) (string, error) {
	if l, ok := logLevels[strings.ToLower(strings.TrimSpace(s))]; ok {
		return l, nil
	}
	return "", fmt.Errorf("invalid log level %q (want trace, debug, info, warn or err)", s)
}

// Resolve applies defaults to the merged layers and validates the result.
// Every problem is reported, one per line.
func Resolve(fc *FileConfig) (Config, error) {
	if fc == nil {
		fc = &FileConfig{}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	str := func(p *string, def string) string {
		if p != nil {
			return *p
		}
		return def
	}
	dur := func(p *Duration) time.Duration {
		if p != nil {
			return p.Duration
		}
		return 0
	}

	host, _ := os.Hostname()
	c := Config{
		NodeName:              str(fc.NodeName, host),
		TagsFile:              str(fc.TagsFile, ""),
		Interface:             str(fc.Interface, ""),
		RPCAddr:               str(fc.RPCAddr, DefaultRPCAddr),
		RPCAuthKey:            str(fc.RPCAuthKey, ""),
		Profile:               str(fc.Profile, gossip.ProfileLAN),
		StartJoin:             fc.StartJoin,
		EventHandlers:         fc.EventHandlers,
		ReplayOnJoin:          fc.ReplayOnJoin != nil && *fc.ReplayOnJoin,
		LogJSON:               fc.LogJSON != nil && *fc.LogJSON,
		LeaveOnTerm:           fc.LeaveOnTerm != nil && *fc.LeaveOnTerm,
		Compression:           fc.EnableCompression == nil || *fc.EnableCompression,
		ClusterLabel:          str(fc.ClusterLabel, ""),
		KeyringFile:           str(fc.KeyringFile, ""),
		SnapshotPath:          str(fc.SnapshotPath, ""),
		RPCTLSCertFile:        str(fc.RPCTLSCertFile, ""),
		RPCTLSKeyFile:         str(fc.RPCTLSKeyFile, ""),
		RPCTLSCAFile:          str(fc.RPCTLSCAFile, ""),
		RetryJoin:             fc.RetryJoin,
		RetryInterval:         DefaultRetryInterval,
		RejoinAfterLeave:      fc.RejoinAfterLeave != nil && *fc.RejoinAfterLeave,
		EncryptVerifyIncoming: fc.EncryptVerifyIncoming == nil || *fc.EncryptVerifyIncoming,
		EncryptVerifyOutgoing: fc.EncryptVerifyOutgoing == nil || *fc.EncryptVerifyOutgoing,
		SkipLeaveOnInt:        fc.SkipLeaveOnInt != nil && *fc.SkipLeaveOnInt,
		BroadcastTimeout:      5 * time.Second,
		ReconnectInterval:     dur(fc.ReconnectInterval),
		ReconnectTimeout:      dur(fc.ReconnectTimeout),
		TombstoneTimeout:      dur(fc.TombstoneTimeout),
		File:                  fc,
	}
	if fc.EncryptKey != nil {
		key, err := gossip.DecodeKey(*fc.EncryptKey)
		if err != nil {
			bad("encrypt_key: %v", err)
		}
		c.EncryptKey = key
	}
	if len(c.ClusterLabel) > gossip.MaxLabelLength {
		bad("cluster_label is %d bytes, over the limit of %d", len(c.ClusterLabel), gossip.MaxLabelLength)
	}
	c.ValidateNodeNames = fc.ValidateNodeNames != nil && *fc.ValidateNodeNames
	c.DisableCoordinates = fc.DisableCoordinates != nil && *fc.DisableCoordinates
	c.StatsdAddr, c.StatsiteAddr, c.MetricsAddr = str(fc.StatsdAddr, ""), str(fc.StatsiteAddr, ""), str(fc.MetricsAddr, "")
	if c.MetricsAddr != "" {
		if _, _, err := splitHostPort(c.MetricsAddr, -1); err != nil {
			bad("metrics_addr: %v", err)
		}
	}
	c.Discover = str(fc.Discover, "")
	if c.Discover != "" && !validServiceLabel(c.Discover) {
		bad("discover %q: use letters, digits and '-' only (it becomes the mDNS service _serf_%s._tcp)", c.Discover, c.Discover)
	}
	c.MDNSInterface = c.Interface
	if m := fc.MDNS; m != nil {
		c.MDNSInterface = str(m.Interface, c.MDNSInterface)
		c.MDNSDisableIPv4 = m.DisableIPv4 != nil && *m.DisableIPv4
		c.MDNSDisableIPv6 = m.DisableIPv6 != nil && *m.DisableIPv6
		if c.MDNSDisableIPv4 && c.MDNSDisableIPv6 {
			bad("mdns: disable_ipv4 and disable_ipv6 cannot both be set")
		}
	}
	switch {
	case c.NodeName == "" && fc.NodeName != nil:
		bad("node_name is empty; give a name or leave it out to use the host name")
	case c.NodeName == "":
		bad("node name is empty and the host name is unknown; set node_name or --node")
	default:
		if err := gossip.ValidateNodeName(c.NodeName, c.ValidateNodeNames); err != nil {
			bad("%v", err)
		}
	}
	if fc.BroadcastTimeout != nil {
		if c.BroadcastTimeout = fc.BroadcastTimeout.Duration; c.BroadcastTimeout <= 0 {
			bad("broadcast_timeout must be positive")
		}
	}
	var err error
	if c.BindAddr, c.BindPort, err = splitHostPort(str(fc.BindAddr, "0.0.0.0"), DefaultBindPort); err != nil {
		bad("bind: %v", err)
	}
	if c.Interface != "" {
		ip, err := interfaceIP(c.Interface)
		if err != nil {
			bad("interface: %v", err)
		} else if fc.BindAddr != nil && c.BindAddr != "0.0.0.0" && c.BindAddr != ip {
			bad("interface %s has address %s but bind is %s; set one of them", c.Interface, ip, c.BindAddr)
		} else {
			c.BindAddr = ip
		}
	}
	if fc.AdvertiseAddr != nil && *fc.AdvertiseAddr != "" {
		if c.AdvertiseAddr, c.AdvertisePort, err = splitHostPort(*fc.AdvertiseAddr, 0); err != nil {
			bad("advertise: %v", err)
		}
	}
	if path, unix := strings.CutPrefix(c.RPCAddr, rpc.UnixPrefix); unix {
		if path == "" {
			bad("rpc_addr: %q names no socket path (want unix:///path/to/socket)", c.RPCAddr)
		}
	} else if _, _, err := splitHostPort(c.RPCAddr, -1); err != nil {
		bad("rpc_addr: %v", err)
	}
	if (c.RPCTLSCertFile == "") != (c.RPCTLSKeyFile == "") {
		bad("rpc_tls_cert_file and rpc_tls_key_file go together")
	}
	if c.RPCTLSCAFile != "" && c.RPCTLSCertFile == "" {
		bad("rpc_tls_ca_file needs rpc_tls_cert_file and rpc_tls_key_file")
	}
	if _, err := gossip.ProfileTiming(c.Profile); err != nil {
		bad("profile: %v", err)
	}
	c.Protocol = gossip.ProtocolDefault
	if fc.Protocol != nil {
		if p := *fc.Protocol; p < int(gossip.ProtocolMin) || p > int(gossip.ProtocolMax) {
			bad("protocol %d out of range %d-%d", p, gossip.ProtocolMin, gossip.ProtocolMax)
		} else {
			c.Protocol = uint8(p)
		}
	}
	for _, h := range c.EventHandlers {
		spec, err := handlers.ParseSpec(h)
		if err != nil {
			bad("event_handlers: %v", err)
			continue
		}
		c.Handlers = append(c.Handlers, spec)
	}
	c.MemberCoalesce, c.UserCoalesce = DefaultMemberCoalesce, DefaultUserCoalesce
	c.HandlerTimeout = handlers.DefaultTimeout
	if fc.HandlerTimeout != nil {
		if c.HandlerTimeout = fc.HandlerTimeout.Duration; c.HandlerTimeout <= 0 {
			bad("handler_timeout must be positive")
		}
	}
	c.UserEventSizeLimit = 512
	if fc.UserEventSizeLimit != nil {
		if v := *fc.UserEventSizeLimit; v <= 0 || v > gossip.MaxUserEventSizeLimit {
			bad("user_event_size_limit %d out of range 1-%d", v, gossip.MaxUserEventSizeLimit)
		} else {
			c.UserEventSizeLimit = v
		}
	}
	if fc.RetryInterval != nil {
		if c.RetryInterval = fc.RetryInterval.Duration; c.RetryInterval <= 0 {
			bad("retry_interval must be positive")
		}
	}
	if fc.RetryMaxAttempts != nil {
		if c.RetryMaxAttempts = *fc.RetryMaxAttempts; c.RetryMaxAttempts < 0 {
			bad("retry_max_attempts %d is negative (0 means no limit)", c.RetryMaxAttempts)
		}
	}
	c.QuerySizeLimit, c.QueryResponseSizeLimit = 1024, 1024
	for _, q := range []struct {
		key string
		v   *int
		to  *int
	}{{"query_size_limit", fc.QuerySizeLimit, &c.QuerySizeLimit}, {"query_response_size_limit", fc.QueryResponseSizeLimit, &c.QueryResponseSizeLimit}} {
		if q.v == nil {
			continue
		}
		if *q.v <= 0 || *q.v > gossip.MaxUserEventSizeLimit {
			bad("%s %d out of range 1-%d", q.key, *q.v, gossip.MaxUserEventSizeLimit)
			continue
		}
		*q.to = *q.v
	}
	if c.LogLevel, err = ParseLogLevel(str(fc.LogLevel, "info")); err != nil {
		bad("log_level: %v", err)
	}

	c.Tags = map[string]string{}
	if c.TagsFile != "" {
		fileTags, err := readTagsFile(c.TagsFile)
		if err != nil {
			bad("tags_file: %v", err)
		}
		maps.Copy(c.Tags, fileTags)
	}
	maps.Copy(c.Tags, fc.Tags)
	if fc.Role != nil {
		c.Tags["role"] = *fc.Role
	}
	if _, err := gossip.EncodeTags(c.Tags, c.Protocol); err != nil {
		bad("tags: %v", err)
	}
	return c, errors.Join(errs...)
}

// splitHostPort parses "ip", "ip:port" or ":port". defPort is used when no
// port is given; -1 makes the port mandatory.
func splitHostPort(s string, defPort int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if defPort < 0 || strings.Count(s, ":") == 1 {
			return "", 0, fmt.Errorf("invalid address %q: %w", s, err)
		}
		host, portStr = s, strconv.Itoa(defPort)
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("invalid address %q: %q is not an IP address", s, host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid address %q: bad port %q", s, portStr)
	}
	return host, port, nil
}

// readTagsFile reads a JSON object of tags; a missing file is no tags.
func readTagsFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	if err := json.Unmarshal(data, &tags); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tags, nil
}

// interfaceIP returns the first IPv4 address of the named network interface
// (or its first IPv6 one, if it has no IPv4 address).
func interfaceIP(name string) (string, error) {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			return ip4.String(), nil
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	if v6 == "" {
		return "", fmt.Errorf("%s has no IP address", name)
	}
	return v6, nil
}

// validServiceLabel reports whether s can name an mDNS service.
func validServiceLabel(s string) bool {
	if len(s) > 50 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
