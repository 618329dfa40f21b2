package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/agentd/agent/rpc"
	"github.com/spf13/cobra"
)

// Where client commands find the agent.
const (
	defaultRPCAddr = "127.0.0.1:7373"
	envRPCAddr     = "AGENT_RPC_ADDR"
	envRPCAuth     = "AGENT_RPC_AUTH"
)

// dialTimeout bounds connecting to the agent, handshake and auth included.
const dialTimeout = 10 * time.Second

// rpcTarget is the --rpc-addr and --rpc-auth of one client command.
type rpcTarget struct {
	cmd  *cobra.Command
	env  env
	addr string
	auth string
	// TLS: the CA that signed the agent's certificate, this client's own
	// certificate and key, and the name to verify instead of the host.
	tlsCA, tlsCert, tlsKey, tlsServerName string
}

// addRPCFlags registers --rpc-addr and --rpc-auth on cmd. The environment
// is read when the command runs, not here, so help text (and the generated
// reference) does not depend on it and never shows a key.
func addRPCFlags(cmd *cobra.Command, e env) *rpcTarget {
	t := &rpcTarget{cmd: cmd, env: e}
	cmd.Flags().StringVar(&t.addr, "rpc-addr", defaultRPCAddr, "RPC `ADDR` of the agent, IP:PORT or unix:///path; $"+envRPCAddr+" overrides the default")
	cmd.Flags().StringVar(&t.auth, "rpc-auth", "", "RPC auth `KEY` of the agent (default $"+envRPCAuth+")")
	cmd.Flags().StringVar(&t.tlsCA, "rpc-tls-ca-file", "", "speak TLS to the agent, verifying its certificate with this CA `FILE` (PEM)")
	cmd.Flags().StringVar(&t.tlsCert, "rpc-tls-cert-file", "", "client certificate `FILE` (PEM) for an agent that requires one")
	cmd.Flags().StringVar(&t.tlsKey, "rpc-tls-key-file", "", "private key `FILE` (PEM) of --rpc-tls-cert-file")
	cmd.Flags().StringVar(&t.tlsServerName, "rpc-tls-server-name", "", "`NAME` to verify the agent's certificate against (default: the host of --rpc-addr)")
	return t
}

// resolve returns the address and key to use: the flag if given, else the
// environment variable if set, else the default.
func (t *rpcTarget) resolve() (addr, auth string) {
	addr, auth = t.addr, t.auth
	if !t.cmd.Flags().Changed("rpc-addr") {
		if v := t.env.getenv(envRPCAddr); v != "" {
			addr = v
		}
	}
	if !t.cmd.Flags().Changed("rpc-auth") {
		auth = t.env.getenv(envRPCAuth)
	}
	return addr, auth
}

// connect dials the agent. Its errors are one line that names the address.
func (t *rpcTarget) connect(ctx context.Context) (*rpc.Client, error) {
	addr, auth := t.resolve()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	opts := rpc.DialOptions{AuthKey: auth}
	if t.tlsCA != "" || t.tlsCert != "" || t.tlsKey != "" || t.tlsServerName != "" {
		var err error
		if opts.TLS, err = rpc.ClientTLS(t.tlsCA, t.tlsCert, t.tlsKey, t.tlsServerName); err != nil {
			return nil, err
		}
	}
	c, err := rpc.DialWith(dctx, addr, opts)
	if err != nil {
		return nil, &shownError{msg: fmt.Sprintf("connecting to agent at %s: %s", addr, dialCause(err)), err: err}
	}
	return c, nil
}

// dialCause says why rpc.Dial failed, without repeating the address.
func dialCause(err error) string {
	var op *net.OpError
	var sys *os.SyscallError
	switch {
	case errors.Is(err, rpc.ErrInvalidAuthToken):
		return "the agent rejected the RPC auth key (--rpc-auth or $" + envRPCAuth + ")"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", dialTimeout)
	case errors.As(err, &sys):
		return sys.Err.Error() // "connection refused"
	case errors.As(err, &op) && op.Err != nil:
		return op.Err.Error()
	}
	if inner := errors.Unwrap(err); inner != nil {
		return inner.Error() // drop rpc.Dial's "rpc dial ADDR: "
	}
	return err.Error()
}

// callError describes a failed call. When the agent answered with an error,
// that is the agent's own message, as is; otherwise what went wrong on the
// way, prefixed with op.
func callError(op string, err error) error {
	var remote *rpc.RemoteError
	switch {
	case errors.Is(err, rpc.ErrAuthRequired):
		return &shownError{msg: op + ": the agent requires an RPC auth key; pass --rpc-auth or set $" + envRPCAuth, err: err}
	case errors.As(err, &remote):
		return &shownError{msg: remote.Message, err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// withClient connects, runs fn and closes the connection.
func (t *rpcTarget) withClient(ctx context.Context, fn func(*rpc.Client) error) error {
	c, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
