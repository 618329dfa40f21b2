package main

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/agentd/agent/agent"
	"github.com/spf13/pflag"
)

// runWith runs the CLI with a recording agent.Run that returns runErr.
func runWith(t *testing.T, runErr error, args ...string) (cliResult, *agent.RunOptions) {
	t.Helper()
	var stdout, stderr syncBuffer
	var got *agent.RunOptions
	e := testEnv(t, &stdout, &stderr, nil)
	e.runAgent = func(ctx context.Context, opts agent.RunOptions) error {
		if ctx == nil {
			t.Error("agent.Run got a nil context")
		}
		got = &opts
		return runErr
	}
	code := execute(t.Context(), args, e)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}, got
}

// layerJSON renders a config layer with Serf's keys; unset fields are
// omitted, so the text shows exactly which flags were set.
func layerJSON(t *testing.T, fc *agent.FileConfig) string {
	t.Helper()
	b, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunFlagLayer(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantLayer string
		wantPaths []string
	}{
		{"nothing set", nil, `{}`, nil},
		{"strings", []string{"--node", "n1", "--bind", "10.0.0.1:7947", "--advertise", "1.2.3.4", "--iface", "eth0",
			"--rpc-addr", "127.0.0.1:7374", "--rpc-auth", "k", "--role", "web", "--profile", "wan",
			"--log-level", "debug", "--tags-file", "/t.json", "--snapshot", "/s"},
			`{"node_name":"n1","role":"web","tags_file":"/t.json","bind":"10.0.0.1:7947","interface":"eth0",` +
				`"advertise":"1.2.3.4","snapshot_path":"/s","log_level":"debug","rpc_addr":"127.0.0.1:7374",` +
				`"rpc_auth":"k","profile":"wan"}`, nil},
		{"explicit empty string is set", []string{"--node="}, `{"node_name":""}`, nil},
		{"explicit false overrides a file's true", []string{"--leave-on-terminate=false", "--skip-leave-on-interrupt=false", "--replay=false", "--log-json=false"},
			`{"replay_on_join":false,"log_json":false,"leave_on_terminate":false,"skip_leave_on_interrupt":false}`, nil},
		{"bools", []string{"--leave-on-terminate", "--skip-leave-on-interrupt", "--replay", "--log-json"},
			`{"replay_on_join":true,"log_json":true,"leave_on_terminate":true,"skip_leave_on_interrupt":true}`, nil},
		{"disable compression", []string{"--disable-compression"}, `{"enable_compression":false}`, nil},
		{"cluster label", []string{"--cluster-label", "prod-eu"}, `{"cluster_label":"prod-eu"}`, nil},
		{"explicit zero protocol", []string{"--protocol", "0"}, `{"protocol":0}`, nil},
		{"protocol", []string{"--protocol=4"}, `{"protocol":4}`, nil},
		{"repeatable lists keep order", []string{"--join", "b:1", "--join", "a:2", "--event-handler", "member-join=x.sh,y", "--event-handler", "z.sh"},
			`{"event_handlers":["member-join=x.sh,y","z.sh"],"start_join":["b:1","a:2"]}`, nil},
		{"tags", []string{"--tag", "b=2", "--tag", "a=1=x", "--tag", "b=3", "--tag", "empty="},
			`{"tags":{"a":"1=x","b":"3","empty":""}}`, nil},
		{"durations", []string{"--broadcast-timeout", "3s", "--reconnect-interval", "1m30s", "--reconnect-timeout", "2h", "--tombstone-timeout", "0s", "--handler-timeout", "10s"},
			`{"broadcast_timeout":"3s","reconnect_interval":"1m30s","reconnect_timeout":"2h0m0s","tombstone_timeout":"0s","handler_timeout":"10s"}`, nil},
		{"config paths keep order across both flags", []string{"--config-file", "a.json", "--config-dir", "d", "--config-file", "b.json", "--config-dir=e"},
			`{}`, []string{"a.json", "d", "b.json", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, opts := runWith(t, nil, append([]string{"run"}, tt.args...)...)
			res.check(t, exitOK, "")
			if opts == nil {
				t.Fatal("agent.Run was not called")
			}
			if got := layerJSON(t, opts.Flags); got != tt.wantLayer {
				t.Errorf("layer(%q) = %s; want %s", tt.args, got, tt.wantLayer)
			}
			if !slices.Equal(opts.ConfigPaths, tt.wantPaths) {
				t.Errorf("ConfigPaths(%q) = %q; want %q", tt.args, opts.ConfigPaths, tt.wantPaths)
			}
			if opts.Stderr == nil {
				t.Error("RunOptions.Stderr is nil")
			}
		})
	}
}

// TestRunFlagLayerWinsOverFile checks the whole point of Changed: merged
// over a file layer, an explicit false wins and unset flags change nothing.
func TestRunFlagLayerWinsOverFile(t *testing.T) {
	file, err := agent.ParseConfig(strings.NewReader(`{"leave_on_terminate": true, "node_name": "from-file", "tags": {"a": "1"}}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, opts := runWith(t, nil, "run", "--leave-on-terminate=false", "--tag", "b=2")
	file.Merge(opts.Flags)
	if got, want := layerJSON(t, file), `{"node_name":"from-file","tags":{"a":"1","b":"2"},"leave_on_terminate":false}`; got != want {
		t.Errorf("merged = %s; want %s", got, want)
	}
}

// TestRunEveryFlagReachesTheLayer guards against a flag that is registered
// but forgotten in flagLayer.
func TestRunEveryFlagReachesTheLayer(t *testing.T) {
	values := map[string]string{
		"tag": "k=v", "protocol": "3", "broadcast-timeout": "1s", "reconnect-interval": "1s",
		"reconnect-timeout": "1s", "tombstone-timeout": "1s", "handler-timeout": "1s", "retry-interval": "1s", "retry-max": "3",
	}
	cmd := newRunCmd(testEnv(t, &syncBuffer{}, &syncBuffer{}, nil))
	var args []string
	var names []string
	for _, name := range []string{
		"node", "bind", "advertise", "iface", "rpc-addr", "rpc-auth", "join", "replay", "tag", "role",
		"profile", "protocol", "log-level", "log-json", "event-handler", "broadcast-timeout",
		"leave-on-terminate", "skip-leave-on-interrupt", "tags-file", "snapshot",
		"reconnect-interval", "reconnect-timeout", "tombstone-timeout", "handler-timeout", "disable-compression", "cluster-label",
		"rejoin", "encrypt", "keyring-file", "retry-join", "retry-interval", "retry-max", "discover", "metrics-addr", "statsd-addr", "statsite-addr",
		"rpc-tls-cert-file", "rpc-tls-key-file", "rpc-tls-ca-file", "encrypt-verify-incoming", "encrypt-verify-outgoing",
	} {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("agent run has no --%s flag", name)
			continue
		}
		v, ok := values[name]
		switch {
		case ok:
		case f.Value.Type() == "bool":
			v = "true"
		default:
			v = "x"
		}
		args = append(args, "--"+name+"="+v)
		names = append(names, name)
	}
	// Each flag alone must add exactly one key to the layer.
	for i, arg := range args {
		_, opts := runWith(t, nil, "run", arg)
		if opts == nil {
			t.Fatalf("run %s: agent.Run not called", arg)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(layerJSON(t, opts.Flags)), &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 {
			t.Errorf("run %s: layer has keys %v; want one key for --%s", arg, m, names[i])
		}
	}
	// And every flag of the command is in the list above, or is a path flag.
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !slices.Contains(names, f.Name) && f.Name != "config-file" && f.Name != "config-dir" {
			t.Errorf("flag --%s is not covered by this test", f.Name)
		}
	})
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"--tag", "novalue"}, `error: invalid argument "novalue" for "--tag" flag: want KEY=VALUE, got "novalue"` + "\n"},
		{[]string{"--tag", "=v"}, `error: invalid argument "=v" for "--tag" flag: want KEY=VALUE, got "=v"` + "\n"},
		{[]string{"--reconnect-interval", "10"}, `error: invalid argument "10" for "--reconnect-interval" flag: want a duration like 30s or 5m, got "10"` + "\n"},
		{[]string{"--tombstone-timeout", "-1s"}, `error: invalid argument "-1s" for "--tombstone-timeout" flag: duration "-1s" is negative` + "\n"},
		{[]string{"--protocol", "five"}, `error: invalid argument "five" for "--protocol" flag: strconv.ParseInt: parsing "five": invalid syntax` + "\n"},
		{[]string{"--config-file", ""}, `error: invalid argument "" for "--config-file" flag: empty path` + "\n"},
		{[]string{"--no-such-flag"}, "error: unknown flag: --no-such-flag\n"},
		{[]string{"extra"}, `error: agent run takes no arguments, got "extra"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res, opts := runWith(t, nil, append([]string{"run"}, tt.args...)...)
			res.check(t, exitUsage, tt.wantStderr)
			if opts != nil {
				t.Error("agent.Run was called despite a usage error")
			}
		})
	}
}

func TestRunFailure(t *testing.T) {
	err := errors.Join(errors.New("bind: invalid address \"x\""), errors.New("protocol 9 out of range 2-5"))
	res, _ := runWith(t, err, "run", "--bind", "x")
	res.check(t, exitFailure, "error: bind: invalid address \"x\"; protocol 9 out of range 2-5\n")
}
