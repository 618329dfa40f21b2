// Package rpc speaks Serf 0.10's IPC protocol (version 1): the server runs
// inside the agent daemon, the client is what the CLI uses. Serf's own Go
// client (github.com/hashicorp/serf/client) and the serf CLI work against
// our server, and our Client works against a Serf agent.
//
// # Wire format
//
// A connection carries a stream of msgpack values, encoded with the
// settings Serf uses (go-msgpack, WriteExt: strings are msgpack str, []byte
// are bin). A request is a header {Command, Seq} followed by a body when
// the command has one; a response is a header {Seq, Error} followed by a
// body when the command has one, even when Error is set (Serf's client
// reads it), except for errors raised before the command runs
// ("Authentication required", "Handshake required", "Unsupported command",
// "Malformed request"). Stream and monitor records reuse the Seq of the
// request that opened them. Member statuses travel as names ("alive"),
// IPv4 addresses as 4 bytes. protocol.go lists every record.
//
// # Server
//
// The [Server] reaches the agent only through the small interfaces in
// interfaces.go ([Cluster], [LocalAgent], [EventSource], [LogSource]). Each
// client connection has a reader goroutine that decodes and runs commands
// in order, a writer goroutine that owns the socket's write side, and one
// goroutine per open stream or monitor that drains the agent's channel.
//
// Slow consumers never block the agent: stream and monitor records go
// through a bounded per-connection queue ([ServerConfig.QueueSize]); when
// it is full the record is dropped, counted ([ServerStats]) and logged once
// per burst; the client stays connected. A connection whose socket write
// does not complete within [ServerConfig.WriteTimeout] is closed.
//
// Input is read one msgpack value at a time with every declared length
// checked against a limit before anything is allocated. A client that sends
// something that is not a request gets a "Malformed request" answer and is
// disconnected; other clients are not affected.
//
// A command Serf does not know is answered with "Unsupported command"
// and the connection stays usable.
//
// Where the server differs from a Serf agent, on purpose:
//   - A command before the handshake is refused but the connection stays
//     open; a command refused for lack of authentication has its body read
//     first (Serf reads it as the next header and answers it twice).
//   - An invalid members-filtered pattern gets an error answer (Serf drops
//     the connection). Patterns are anchored as a whole, "^(?:P)$".
//   - After answering a leave, the server waits for that client to hang up
//     (at most [ServerConfig.LeaveGrace]) before [Server.ExitRequested]
//     fires, so the client reads the answer before the agent goes away.
//   - Auth keys are compared in constant time.
//
// # Client
//
// [Dial] connects, performs the handshake and, with a key, authenticates.
// Errors the agent reports are decoded once into [*RemoteError], which
// matches the package sentinels (such as [ErrAuthRequired]) with errors.Is.
// See [Client.Leave] for when a leave whose connection drops counts as done.
//
// The package imports only the events package, the standard library and
// go-msgpack, so the CLI can use the client without pulling in memberlist.
package rpc
