// Package memnet is an in-memory network for running many memberlist nodes
// (tens to a thousand) inside one test or benchmark process, with faults that
// the test switches on and off while traffic flows.
//
// A Network hands out Transports, each with a unique address
// "127.0.0.1:<port>" (ports count up from 20000; no socket is opened). A
// Transport implements memberlist.NodeAwareTransport: set it as
// memberlist.Config.Transport and give every node a unique Name.
//
// Packets are best effort, like UDP: a packet may be dropped by loss, by a
// partition, because the receiver's queue is full, or because the receiver is
// shut down; WriteTo still succeeds and the drop is counted in Stats. Streams
// are reliable, buffered in-memory connections with working deadlines.
//
// Faults, all safe to change at any time from any goroutine:
//
//   - loss (SetLoss, SetLinkLoss) drops packets, never stream data;
//   - delay (SetDelay, SetNodeDelay) holds packets back before delivery and
//     stalls stream dials; data on an open stream is not delayed;
//   - partitions (Partition, Heal) drop packets between groups, make dials
//     across groups fail at once with ErrUnreachable, and reset streams
//     already open across the cut: both ends then fail with ErrReset.
//
// Reset clears every fault. Close shuts every Transport down and drops the
// packets still waiting out a delay. No goroutine outlives Close: delayed
// packets ride on time.AfterFunc timers, and a blocked dial belongs to its
// caller.
//
// memnet uses the wall clock because memberlist does. Created inside a
// testing/synctest bubble, a Network and its memberlist nodes run on the
// bubble's fake clock.
package memnet
