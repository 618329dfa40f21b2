package main

import (
	"maps"
	"slices"

	"github.com/agentd/agent/agent"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runValues holds `agent run`'s flag values for one invocation.
type runValues struct {
	node, bind, advertise, iface          string
	rpcAddr, rpcAuth                      string
	join, eventHandlers                   []string
	replay, logJSON                       bool
	tags                                  *keyValues
	role, profile, logLevel               string
	protocol                              int
	configPaths                           []string
	broadcastTimeout                      durationValue
	leaveOnTerm, skipLeaveOnInt           bool
	disableCompression                    bool
	clusterLabel, encrypt, keyringFile    string
	verifyIncoming, verifyOutgoing        bool
	rejoin                                bool
	retryJoin                             []string
	retryInterval                         durationValue
	retryMax                              int
	discover                              string
	metricsAddr, statsdAddr, statsiteAddr string
	rpcTLSCert, rpcTLSKey, rpcTLSCA       string
	tagsFile, snapshot                    string
	reconnectInterval                     durationValue
	reconnectTimeout, tombstoneTTL        durationValue
	handlerTimeout                        durationValue
}

func newRunCmd(e env) *cobra.Command {
	v := &runValues{tags: newKeyValues("key=value")}
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Run the agent daemon",
		Long: `Run the agent daemon in the foreground until it is told to stop.

Configuration is layered: defaults, then the --config-file and --config-dir
inputs in the order given (a directory contributes its *.json files in lexical
order), then the flags. Only flags given on the command line take part, so an
explicit value wins over the files even when it is false or zero
(--leave-on-terminate=false overrides "leave_on_terminate": true). Config files
use Serf's JSON keys.

SIGINT leaves the cluster gracefully and exits (unless --skip-leave-on-interrupt);
SIGTERM exits without leaving (unless --leave-on-terminate); a second signal
exits at once. SIGHUP reloads the config files (log level, tags and event
handlers). "agent leave" also ends the daemon after a graceful leave. With
--snapshot, a restarted agent rejoins the members it last saw alive by itself.
Logs go to stderr.`,
		Example: `  agent run --node web-1 --bind 10.0.0.5 --tag role=web --join 10.0.0.2
  agent run --config-dir /etc/agent.d --log-level debug`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runAgent(cmd.Context(), agent.RunOptions{
				ConfigPaths: v.configPaths,
				Flags:       flagLayer(cmd.Flags(), v),
				Stderr:      cmd.ErrOrStderr(),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&v.node, "node", "", "`NAME` of this node, unique in the cluster (default: the host name)")
	f.StringVar(&v.bind, "bind", "", "`ADDR` to bind gossip to, IP or IP:PORT (default 0.0.0.0:7946)")
	f.StringVar(&v.advertise, "advertise", "", "`ADDR` to advertise to other members, IP or IP:PORT (default: the bind address)")
	f.StringVar(&v.iface, "iface", "", "network `INTERFACE` whose address to bind gossip to")
	f.StringVar(&v.rpcAddr, "rpc-addr", "", "`ADDR` of the RPC listener the CLI talks to, IP:PORT or unix:///path/to/socket (default 127.0.0.1:7373)")
	f.StringVar(&v.rpcTLSCert, "rpc-tls-cert-file", "", "certificate `FILE` (PEM) for TLS on the RPC port")
	f.StringVar(&v.rpcTLSKey, "rpc-tls-key-file", "", "private key `FILE` (PEM) of --rpc-tls-cert-file")
	f.StringVar(&v.rpcTLSCA, "rpc-tls-ca-file", "", "CA `FILE` (PEM): RPC clients must present a certificate it signed")
	f.StringVar(&v.rpcAuth, "rpc-auth", "", "`KEY` RPC clients must present (default: none)")
	f.StringArrayVar(&v.join, "join", nil, "`ADDR` of a member to join at start; repeatable")
	f.BoolVar(&v.replay, "replay", false, "replay past user events when joining at start")
	f.Var(v.tags, "tag", "tag of this node as `KEY=VALUE`; repeatable")
	f.StringVar(&v.role, "role", "", "`ROLE` of this node, stored as the \"role\" tag")
	f.StringVar(&v.profile, "profile", "", "gossip timing `PROFILE`: lan, wan or local (default lan)")
	f.IntVar(&v.protocol, "protocol", 0, "gossip protocol `VERSION` to speak (default: the newest supported)")
	f.StringVar(&v.logLevel, "log-level", "", "log `LEVEL`: trace, debug, info, warn or err (default info)")
	f.BoolVar(&v.logJSON, "log-json", false, "write logs as JSON lines")
	f.Var(pathList{&v.configPaths, "file"}, "config-file", "JSON config `FILE` to read; repeatable, applied in order with --config-dir")
	f.Var(pathList{&v.configPaths, "dir"}, "config-dir", "`DIR` of *.json config files; repeatable, applied in order with --config-file")
	f.StringArrayVar(&v.eventHandlers, "event-handler", nil, "event handler `[FILTER=]SCRIPT`, in Serf's syntax; repeatable")
	f.Var(&v.handlerTimeout, "handler-timeout", "how long one event handler run may take before its process group is killed (default 60s)")
	f.Var(&v.broadcastTimeout, "broadcast-timeout", "how long to wait for a leave or a tags change to be gossiped (default 5s)")
	f.StringVar(&v.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9120)")
	f.StringVar(&v.statsdAddr, "statsd-addr", "", "send metrics to statsd at `ADDR`")
	f.StringVar(&v.statsiteAddr, "statsite-addr", "", "send metrics to statsite at `ADDR`")
	f.StringVar(&v.discover, "discover", "", "find and join the members of `CLUSTER` on the local network with mDNS (Serf's discovery)")
	f.StringArrayVar(&v.retryJoin, "retry-join", nil, "`ADDR` to join in the background, retried until it answers; repeatable")
	f.Var(&v.retryInterval, "retry-interval", "time between retry-join attempts, and between checks for missing members (default 30s)")
	f.IntVar(&v.retryMax, "retry-max", 0, "give up (and exit) after this many failed retry-join `ATTEMPTS` (default 0: never)")
	f.BoolVar(&v.rejoin, "rejoin", false, "rejoin the snapshot's members even after a graceful leave")
	f.StringVar(&v.encrypt, "encrypt", "", "gossip encryption `KEY`, base64 of 16, 24 or 32 bytes (see \"agent keygen\")")
	f.StringVar(&v.keyringFile, "keyring-file", "", "`FILE` holding the gossip keys; created from --encrypt if missing, rewritten on every key change")
	f.BoolVar(&v.verifyIncoming, "encrypt-verify-incoming", true, "refuse unencrypted gossip when a key is set (false while switching to encryption)")
	f.BoolVar(&v.verifyOutgoing, "encrypt-verify-outgoing", true, "encrypt outgoing gossip when a key is set (false while switching to encryption)")
	f.StringVar(&v.clusterLabel, "cluster-label", "", "`LABEL` every packet carries; members with another label are refused (default: none)")
	f.BoolVar(&v.disableCompression, "disable-compression", false, "send gossip uncompressed (peers read both; see enable_compression)")
	f.BoolVar(&v.leaveOnTerm, "leave-on-terminate", false, "leave the cluster gracefully on SIGTERM")
	f.BoolVar(&v.skipLeaveOnInt, "skip-leave-on-interrupt", false, "exit on SIGINT without leaving the cluster")
	f.StringVar(&v.tagsFile, "tags-file", "", "`FILE` that keeps the tags: read at start, rewritten by \"agent tags\"")
	f.StringVar(&v.snapshot, "snapshot", "", "`FILE` to record cluster state in, for rejoining after a restart")
	f.Var(&v.reconnectInterval, "reconnect-interval", "how often to try to reconnect to failed members (default 30s)")
	f.Var(&v.reconnectTimeout, "reconnect-timeout", "how long to keep trying a failed member before reaping it (default 24h)")
	f.Var(&v.tombstoneTTL, "tombstone-timeout", "how long to remember a member that left (default 24h)")
	return cmd
}

// flagLayer builds the configuration layer of the flags that were given on
// the command line (pflag's Visit walks only those). Unset flags stay nil,
// so they leave the files' values alone; set ones win even when false.
// --config-file and --config-dir are not part of the layer.
func flagLayer(fs *pflag.FlagSet, v *runValues) *agent.FileConfig {
	fc := &agent.FileConfig{}
	dur := func(d durationValue) *agent.Duration { return &agent.Duration{Duration: d.d} }
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "node":
			fc.NodeName = &v.node
		case "bind":
			fc.BindAddr = &v.bind
		case "advertise":
			fc.AdvertiseAddr = &v.advertise
		case "iface":
			fc.Interface = &v.iface
		case "rpc-addr":
			fc.RPCAddr = &v.rpcAddr
		case "rpc-tls-cert-file":
			fc.RPCTLSCertFile = &v.rpcTLSCert
		case "rpc-tls-key-file":
			fc.RPCTLSKeyFile = &v.rpcTLSKey
		case "rpc-tls-ca-file":
			fc.RPCTLSCAFile = &v.rpcTLSCA
		case "rpc-auth":
			fc.RPCAuthKey = &v.rpcAuth
		case "join":
			fc.StartJoin = slices.Clone(v.join)
		case "replay":
			fc.ReplayOnJoin = &v.replay
		case "tag":
			fc.Tags = maps.Clone(v.tags.m)
		case "role":
			fc.Role = &v.role
		case "profile":
			fc.Profile = &v.profile
		case "protocol":
			fc.Protocol = &v.protocol
		case "log-level":
			fc.LogLevel = &v.logLevel
		case "log-json":
			fc.LogJSON = &v.logJSON
		case "event-handler":
			fc.EventHandlers = slices.Clone(v.eventHandlers)
		case "broadcast-timeout":
			fc.BroadcastTimeout = dur(v.broadcastTimeout)
		case "handler-timeout":
			fc.HandlerTimeout = dur(v.handlerTimeout)
		case "metrics-addr":
			fc.MetricsAddr = &v.metricsAddr
		case "statsd-addr":
			fc.StatsdAddr = &v.statsdAddr
		case "statsite-addr":
			fc.StatsiteAddr = &v.statsiteAddr
		case "discover":
			fc.Discover = &v.discover
		case "retry-join":
			fc.RetryJoin = slices.Clone(v.retryJoin)
		case "retry-interval":
			fc.RetryInterval = dur(v.retryInterval)
		case "retry-max":
			fc.RetryMaxAttempts = &v.retryMax
		case "rejoin":
			fc.RejoinAfterLeave = &v.rejoin
		case "encrypt":
			fc.EncryptKey = &v.encrypt
		case "keyring-file":
			fc.KeyringFile = &v.keyringFile
		case "encrypt-verify-incoming":
			fc.EncryptVerifyIncoming = &v.verifyIncoming
		case "encrypt-verify-outgoing":
			fc.EncryptVerifyOutgoing = &v.verifyOutgoing
		case "cluster-label":
			fc.ClusterLabel = &v.clusterLabel
		case "disable-compression":
			on := !v.disableCompression
			fc.EnableCompression = &on
		case "leave-on-terminate":
			fc.LeaveOnTerm = &v.leaveOnTerm
		case "skip-leave-on-interrupt":
			fc.SkipLeaveOnInt = &v.skipLeaveOnInt
		case "tags-file":
			fc.TagsFile = &v.tagsFile
		case "snapshot":
			fc.SnapshotPath = &v.snapshot
		case "reconnect-interval":
			fc.ReconnectInterval = dur(v.reconnectInterval)
		case "reconnect-timeout":
			fc.ReconnectTimeout = dur(v.reconnectTimeout)
		case "tombstone-timeout":
			fc.TombstoneTimeout = dur(v.tombstoneTTL)
		}
	})
	return fc
}
