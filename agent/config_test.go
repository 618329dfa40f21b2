package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown key", `{"node_name": "a", "nod_name": "b"}`, `unknown key "nod_name"`},
		{"wrong type", `{"protocol": "five"}`, `key "protocol"`},
		{"bad duration", `{"reconnect_timeout": "soon"}`, `invalid duration "soon"`},
		{"syntax", "{\n\"node_name\": \"a\",\n}", "line 3"},
		{"empty", ``, "empty file"},
		{"trailing", `{} {}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.body), "test.json")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "test.json") {
				t.Errorf("ParseConfig(%s) error = %v; want it to name test.json and contain %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestLoadConfigDirMerges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "10-base.json", `{"node_name": "a", "tags": {"role": "web", "dc": "eu"}, "start_join": ["10.0.0.1"], "leave_on_terminate": true}`)
	writeFile(t, dir, "20-over.json", `{"node_name": "b", "tags": {"dc": "us"}, "start_join": ["10.0.0.2"], "leave_on_terminate": false, "reconnect_timeout": "1h"}`)
	writeFile(t, dir, "ignored.txt", `not json`)
	fc, err := LoadConfigPath(dir)
	if err != nil {
		t.Fatalf("LoadConfigPath: %v", err)
	}
	c, err := Resolve(fc)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if c.NodeName != "b" {
		t.Errorf("NodeName = %q; want b (later file overrides)", c.NodeName)
	}
	if want := map[string]string{"role": "web", "dc": "us"}; !reflect.DeepEqual(c.Tags, want) {
		t.Errorf("Tags = %v; want %v (merged per key)", c.Tags, want)
	}
	if want := []string{"10.0.0.1", "10.0.0.2"}; !reflect.DeepEqual(c.StartJoin, want) {
		t.Errorf("StartJoin = %v; want %v (appended)", c.StartJoin, want)
	}
	if c.LeaveOnTerm {
		t.Errorf("LeaveOnTerm = true; want false (an explicit false overrides)")
	}
	if c.ReconnectTimeout != time.Hour {
		t.Errorf("ReconnectTimeout = %v; want 1h", c.ReconnectTimeout)
	}
}

func TestResolveDefaultsAndErrors(t *testing.T) {
	c, err := Resolve(nil)
	if err != nil {
		t.Fatalf("Resolve(defaults): %v", err)
	}
	if c.BindAddr != "0.0.0.0" || c.BindPort != 7946 || c.RPCAddr != "127.0.0.1:7373" || c.Profile != "lan" || c.Protocol != 5 || c.LogLevel != "info" || c.UserEventSizeLimit != 512 {
		t.Errorf("defaults = %+v; want bind 0.0.0.0:7946, rpc 127.0.0.1:7373, lan, protocol 5, info, user event limit 512", c)
	}
	if c.QuerySizeLimit != 1024 || c.QueryResponseSizeLimit != 1024 {
		t.Errorf("query limits %d/%d; want Serf's 1024/1024", c.QuerySizeLimit, c.QueryResponseSizeLimit)
	}
	if !c.Compression {
		t.Error("Compression off by default; Serf compresses unless enable_compression is false")
	}
	off := false
	if c, err := Resolve(&FileConfig{EnableCompression: &off}); err != nil || c.Compression {
		t.Errorf("Resolve(enable_compression false) = compression %t, %v; want off", c.Compression, err)
	}
	s := func(v string) *string { return &v }
	n := func(v int) *int { return &v }
	b := func(v bool) *bool { return &v }
	tests := []struct {
		name string
		fc   FileConfig
		want string
	}{
		{"bad bind", FileConfig{BindAddr: s("300.1.1.1")}, "bind"},
		{"bad bind port", FileConfig{BindAddr: s("127.0.0.1:99999")}, "bad port"},
		{"bad rpc", FileConfig{RPCAddr: s("localhost")}, "rpc_addr"},
		{"bad profile", FileConfig{Profile: s("moon")}, "unknown profile"},
		{"bad protocol", FileConfig{Protocol: n(9)}, "protocol 9"},
		{"bad log level", FileConfig{LogLevel: s("loud")}, "log level"},
		{"unknown interface", FileConfig{Interface: s("nosuchif0")}, "nosuchif0"},
		{"big tags", FileConfig{Tags: map[string]string{"x": strings.Repeat("y", 600)}}, "tags too large"},
		{"zero event limit", FileConfig{UserEventSizeLimit: n(0)}, "user_event_size_limit 0 out of range 1-9216"},
		{"zero query limit", FileConfig{QuerySizeLimit: n(0)}, "query_size_limit 0 out of range 1-9216"},
		{"huge response limit", FileConfig{QueryResponseSizeLimit: n(10000)}, "query_response_size_limit 10000 out of range"},
		{"control character in the name", FileConfig{NodeName: s("web\n1")}, `node name "web\n1" contains a control character`},
		{"long name", FileConfig{NodeName: s(strings.Repeat("n", 129))}, "node name is 129 bytes, over the limit of 128"},
		{"strict name", FileConfig{NodeName: s("web_1"), ValidateNodeNames: b(true)}, "only letters, digits"},
		{"empty node name", FileConfig{NodeName: s("")}, "node_name is empty"},
		{"empty tag key", FileConfig{Tags: map[string]string{"": "x"}}, "a tag key is empty"},
		{"control character in a tag key", FileConfig{Tags: map[string]string{"a\tb": "x"}}, `tag key "a\tb" contains a control character`},
		{"long cluster label", FileConfig{ClusterLabel: s(strings.Repeat("x", 256))}, "cluster_label is 256 bytes, over the limit of 255"},
		{"huge event limit", FileConfig{UserEventSizeLimit: n(10000)}, "user_event_size_limit 10000 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(&tt.fc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Resolve() error = %v; want it to mention %q", err, tt.want)
			}
		})
	}
	if c, err := Resolve(&FileConfig{Interface: s("lo"), BindAddr: s(":8001")}); err != nil || c.BindAddr != "127.0.0.1" || c.BindPort != 8001 {
		t.Errorf("Resolve(interface lo, bind :8001) = %s:%d, %v; want 127.0.0.1:8001", c.BindAddr, c.BindPort, err)
	}
	c, err = Resolve(&FileConfig{BindAddr: s("127.0.0.1:8000"), AdvertiseAddr: s("10.1.2.3"), LogLevel: s("ERR"), Role: s("db")})
	if err != nil || c.BindPort != 8000 || c.AdvertiseAddr != "10.1.2.3" || c.AdvertisePort != 0 || c.LogLevel != "err" || c.Tags["role"] != "db" {
		t.Errorf("Resolve = %+v, %v; want bind port 8000, advertise 10.1.2.3, level err, role db", c, err)
	}
}

// The example configuration of docs/deploy loads.
func TestDeployExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig([]string{"../docs/deploy/agent.d"}, &FileConfig{})
	if err != nil {
		t.Fatalf("docs/deploy/agent.d: %v", err)
	}
	if c.RPCAddr != "unix:///run/agent/rpc.sock" || c.SnapshotPath == "" || len(c.RetryJoin) != 1 || c.Tags["role"] != "web" || len(c.Handlers) != 1 {
		t.Errorf("docs/deploy/agent.d resolved to %+v", c)
	}
}
