// Package memnet is an in-memory network for running many memberlist nodes
// (tens to a thousand) inside one test or benchmark process, with faults that
// the test switches on and off while traffic flows.
//
// A Network hands out Transports, each with a unique address
// "127.0.0.1:<port>" (ports count up from 20000; no socket is opened). A
// Transport implements memberlist.NodeAwareTransport.
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
// # Running memberlist on it
//
// Start from memberlist.DefaultLocalConfig, set Transport to a new Transport
// and Name to a unique name. What memberlist then does, as observed:
//
//   - Join every node to the same seed. A new member is gossiped only
//     RetransmitMult*ceil(log10(n+1)) times per node, so a few nodes miss
//     some members until the next periodic push/pull, and memberlist
//     stretches that period past 32 nodes (x2 at 50 nodes, x4 at 200, x6 at
//     1000): with the local profile, 50 nodes may need 30 s to agree. Raise
//     RetransmitMult to 4 or shorten PushPullInterval to close the gaps.
//   - Members and NumMembers include suspect nodes, so a partitioned peer
//     disappears only when it is declared dead, after a suspicion timeout of
//     SuspicionMult*log10(n)*ProbeInterval, stretched up to
//     SuspicionMaxTimeoutMult times that when no other node confirms it.
//   - After Heal, join each node to one across the old cut: it learns that
//     the other side declared it dead and refutes that at once.
//   - Per-packet compression (EnableCompression) and the garbage it makes
//     are the largest CPU cost at scale; memnet itself is about 1%.
//
// On the wall clock, a starved CPU delays acks and causes false failure
// detections; past a few hundred nodes a loaded machine makes the cluster
// collapse. Run large clusters inside a testing/synctest bubble instead:
// create the Network in the bubble, and memberlist and memnet run on the
// bubble's fake clock, which advances only when every goroutine is blocked.
// Protocol minutes then cost seconds of CPU, timings are stock, and
// synctest.Test fails if a goroutine outlives Shutdown.
package memnet
