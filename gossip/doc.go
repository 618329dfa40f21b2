// Package gossip is the cluster membership layer: hashicorp/memberlist for
// failure detection and dissemination, plus Serf's membership semantics on top
// (Lamport-clocked join and leave intents, the leaving/left/failed/reaped
// states, reaping and reconnecting), speaking Serf 0.10's gossip protocol so
// that our nodes and Serf nodes form one cluster.
//
// The rules live in plain types that take the time as an argument (see
// memberTable); the memberlist delegates and the Node type are thin adapters
// that lock, call the rules, and queue the resulting broadcasts and events.
package gossip
