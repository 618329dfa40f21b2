// Package layering holds no code: its test enforces the import direction
// cmd -> agent -> {rpc, handlers, gossip} -> events.
package layering
