package rpc

import (
	"errors"
	"strings"
)

// wireError is an error whose text is what travels in a response header.
// Serf's clients match on these strings, so they keep Serf's spelling,
// capital letter included.
type wireError string

// Error implements error.
func (e wireError) Error() string { return string(e) }

// Errors of the IPC protocol. Their text is Serf's wire string; a
// [*RemoteError] from the client matches them with errors.Is.
var (
	// ErrHandshakeRequired: a command was sent before the handshake.
	ErrHandshakeRequired error = wireError("Handshake required")
	// ErrUnsupportedVersion: the handshake asked for an IPC version other than 1.
	ErrUnsupportedVersion error = wireError("Unsupported IPC version")
	// ErrDuplicateHandshake: a second handshake on one connection.
	ErrDuplicateHandshake error = wireError("Handshake already performed")
	// ErrAuthRequired: the agent has an auth key and the connection has not
	// authenticated.
	ErrAuthRequired error = wireError("Authentication required")
	// ErrInvalidAuthToken: the auth command carried the wrong key.
	ErrInvalidAuthToken error = wireError("Invalid authentication token")
	// ErrUnsupportedCommand: the agent does not know the command. The agent
	// closes the connection after this reply, since it cannot tell whether
	// a body follows.
	ErrUnsupportedCommand error = wireError("Unsupported command")
	// ErrMonitorExists: the connection already has a monitor.
	ErrMonitorExists error = wireError("Monitor already exists")
	// ErrInvalidFilter: a stream filter names an unknown event type.
	ErrInvalidFilter error = wireError("Invalid event filter")
	// ErrStreamExists: a stream is already open under the request's Seq.
	ErrStreamExists error = wireError("Stream with given sequence exists")
	// ErrInvalidQueryID: respond named no pending query.
	ErrInvalidQueryID error = wireError("No pending queries matching ID")

	// ErrUnknownLogLevel: monitor asked for a level other than TRACE, DEBUG,
	// INFO, WARN or ERR. On the wire: "Unknown log level: LEVEL".
	ErrUnknownLogLevel error = wireError("Unknown log level")
	// ErrInvalidRegex: a members-filtered pattern does not compile. On the
	// wire: "Failed to compile regex: DETAIL". (A Serf agent drops the
	// connection instead of replying.)
	ErrInvalidRegex error = wireError("Failed to compile regex")
	// ErrNotImplemented: the command is part of Serf's protocol but this
	// agent does not implement it yet. On the wire: "Command not
	// implemented: NAME". Not a Serf error.
	ErrNotImplemented error = wireError("Command not implemented")
	// ErrMalformedRequest: the agent could not decode a request; it closes
	// the connection after this reply. On the wire: "Malformed request:
	// DETAIL". Not a Serf error.
	ErrMalformedRequest error = wireError("Malformed request")
)

// exactErrors are matched against the whole wire string.
var exactErrors = []error{
	ErrHandshakeRequired, ErrUnsupportedVersion, ErrDuplicateHandshake,
	ErrAuthRequired, ErrInvalidAuthToken, ErrUnsupportedCommand,
	ErrMonitorExists, ErrInvalidFilter, ErrStreamExists, ErrInvalidQueryID,
}

// prefixErrors are matched against "TEXT: detail".
var prefixErrors = []error{
	ErrUnknownLogLevel, ErrInvalidRegex, ErrNotImplemented, ErrMalformedRequest,
}

// withDetail returns the wire string for a prefix error: "TEXT: detail".
func withDetail(kind error, detail string) string {
	return kind.Error() + ": " + detail
}

// ErrClientClosed is returned by calls on a closed [Client], and by calls
// whose connection was lost.
var ErrClientClosed = errors.New("rpc client closed")

// RemoteError is an error the agent reported in a response header. Message
// is the agent's text, unchanged. It wraps the package sentinel with that
// text, if any, so errors.Is(err, ErrAuthRequired) works.
type RemoteError struct {
	// Command is the command that failed ("join").
	Command string
	// Message is the error text from the wire.
	Message string
	kind    error
}

// Error returns "COMMAND: MESSAGE".
func (e *RemoteError) Error() string { return e.Command + ": " + e.Message }

// Unwrap returns the matching sentinel, or nil for an error the protocol
// does not define (such as a failed join's reason).
func (e *RemoteError) Unwrap() error { return e.kind }

// decodeError turns a response header's Error into a typed error: nil for
// "", otherwise a *RemoteError. It is the only place wire strings are
// interpreted on the client side.
func decodeError(cmd, msg string) error {
	if msg == "" {
		return nil
	}
	return &RemoteError{Command: cmd, Message: msg, kind: classifyError(msg)}
}

// classifyError returns the sentinel for a wire error string, or nil.
func classifyError(msg string) error {
	for _, e := range exactErrors {
		if msg == e.Error() {
			return e
		}
	}
	for _, e := range prefixErrors {
		if msg == e.Error() || strings.HasPrefix(msg, e.Error()+": ") {
			return e
		}
	}
	return nil
}

// noBodyError reports whether a response with this Error carries no body
// even for a command whose responses normally do. These are the errors a
// server returns before it looks at the command: Serf's client makes the
// same exception for "Authentication required".
func noBodyError(msg string) bool {
	switch classifyError(msg) {
	case ErrHandshakeRequired, ErrAuthRequired, ErrUnsupportedCommand, ErrMalformedRequest:
		return true
	}
	return false
}
