package rpc

import (
	"errors"
	"testing"
)

func TestDecodeError(t *testing.T) {
	tests := []struct {
		msg    string
		want   error // sentinel, or nil for an agent error without one
		noBody bool
	}{
		{"Handshake required", ErrHandshakeRequired, true},
		{"Unsupported IPC version", ErrUnsupportedVersion, false},
		{"Handshake already performed", ErrDuplicateHandshake, false},
		{"Authentication required", ErrAuthRequired, true},
		{"Invalid authentication token", ErrInvalidAuthToken, false},
		{"Unsupported command", ErrUnsupportedCommand, true},
		{"Monitor already exists", ErrMonitorExists, false},
		{"Invalid event filter", ErrInvalidFilter, false},
		{"Stream with given sequence exists", ErrStreamExists, false},
		{"No pending queries matching ID", ErrInvalidQueryID, false},
		{"Unknown log level: LOUD", ErrUnknownLogLevel, false},
		{"Failed to compile regex: error parsing regexp: missing closing )", ErrInvalidRegex, false},
		{"Command not implemented: list-keys", ErrNotImplemented, false},
		{"Malformed request: decode header: EOF", ErrMalformedRequest, true},
		// Near misses are agent errors, not protocol ones.
		{"Authentication required!", nil, false},
		{"authentication required", nil, false},
		{"Unsupported commands", nil, false},
		{"Unknown log levels", nil, false},
		{"join 10.0.0.1:7946: connection refused", nil, false},
	}
	for _, tt := range tests {
		err := decodeError("members", tt.msg)
		var re *RemoteError
		if !errors.As(err, &re) || re.Message != tt.msg || re.Command != "members" {
			t.Errorf("decodeError(%q) = %#v; want *RemoteError{members, %q}", tt.msg, err, tt.msg)
			continue
		}
		if re.Unwrap() != tt.want {
			t.Errorf("decodeError(%q) wraps %v; want %v", tt.msg, re.Unwrap(), tt.want)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("errors.Is(decodeError(%q), %v) = false; want true", tt.msg, tt.want)
		}
		if got := err.Error(); got != "members: "+tt.msg {
			t.Errorf("decodeError(%q).Error() = %q; want %q", tt.msg, got, "members: "+tt.msg)
		}
		if got := noBodyError(tt.msg); got != tt.noBody {
			t.Errorf("noBodyError(%q) = %v; want %v", tt.msg, got, tt.noBody)
		}
	}
	if err := decodeError("members", ""); err != nil {
		t.Errorf("decodeError(\"\") = %v; want nil", err)
	}
}

// TestServerErrorsDecode checks that every error the server can put on the
// wire decodes to its sentinel.
func TestServerErrorsDecode(t *testing.T) {
	_, regexErr := compileMemberFilter(membersFilteredRequest{Name: "("})
	tests := []struct {
		sent error
		want error
	}{
		{errNotImplemented(cmdQuery), ErrNotImplemented},
		{regexErr, ErrInvalidRegex},
		{wireError(withDetail(ErrUnknownLogLevel, "X")), ErrUnknownLogLevel},
		{wireError(withDetail(ErrMalformedRequest, "decode join: EOF")), ErrMalformedRequest},
	}
	for _, tt := range tests {
		if got := decodeError("x", errText(tt.sent)); !errors.Is(got, tt.want) {
			t.Errorf("decodeError(%q) = %v; want %v", errText(tt.sent), got, tt.want)
		}
	}
}
