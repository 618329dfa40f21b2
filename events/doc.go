// Package events defines the events the agent's layers exchange: membership
// changes (and, later, user events and queries), the member records they
// carry, and the coalescer that batches bursts of member events.
//
// It is the leaf of the import graph: it imports nothing from this module.
package events
