// Package agent is the daemon: it resolves configuration (defaults, JSON
// files, flags), builds the gossip node and the RPC server, fans events out
// to subscribers, and handles the lifecycle (start, join, leave, reload,
// shutdown).
package agent
