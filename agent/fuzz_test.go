package agent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseConfig: no config file may panic ParseConfig, and whatever it
// accepts merges into an empty layer as itself and reads back unchanged
// from its JSON.
func FuzzParseConfig(f *testing.F) {
	// Valid files, as in TestLoadConfigDirMerges and Serf's documentation.
	f.Add(`{"node_name": "a", "tags": {"role": "web", "dc": "eu"}, "start_join": ["10.0.0.1"], "leave_on_terminate": true}`)
	f.Add(`{"node_name": "b", "tags": {"dc": "us"}, "start_join": ["10.0.0.2"], "leave_on_terminate": false, "reconnect_timeout": "1h"}`)
	f.Add(`{"event_handlers": ["member-join=./join.sh", "user:deploy=./deploy.sh"], "mdns": {"interface": "eth0", "disable_ipv6": true}}`)
	f.Add(`{"bind": "127.0.0.1:8000", "advertise": "10.1.2.3", "log_level": "ERR", "role": "db", "protocol": 5, "retry_interval": "30s"}`)
	f.Add(`{"tags": {}, "start_join": [], "node_name": null}`)
	f.Add(`{}`)
	// Invalid ones, as in TestParseConfigErrors.
	f.Add(`{"node_name": "a", "nod_name": "b"}`)
	f.Add(`{"protocol": "five"}`)
	f.Add(`{"reconnect_timeout": "soon"}`)
	f.Add(`{"reconnect_timeout": "-1s"}`)
	f.Add("{\n\"node_name\": \"a\",\n}")
	f.Add(``)
	f.Add(`{} {}`)
	f.Add(`[1, 2]`)
	f.Fuzz(func(t *testing.T, in string) {
		fc, err := ParseConfig(strings.NewReader(in), "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("ParseConfig(%q) error = %v; want it to name fuzz.json", in, err)
			}
			return
		}
		if fc == nil {
			t.Fatalf("ParseConfig(%q) = nil, nil", in)
		}
		want := mustJSON(t, fc)
		merged := &FileConfig{}
		merged.Merge(fc)
		if got := mustJSON(t, merged); !bytes.Equal(got, want) {
			t.Fatalf("ParseConfig(%q) merged into an empty layer = %s; want %s", in, got, want)
		}
		again, err := ParseConfig(bytes.NewReader(want), "again.json")
		if err != nil {
			t.Fatalf("ParseConfig(%q) = %s, which does not parse again: %v", in, want, err)
		}
		if got := mustJSON(t, again); !bytes.Equal(got, want) {
			t.Fatalf("ParseConfig(%q) = %s; read back as %s", in, want, got)
		}
	})
}

func mustJSON(t *testing.T, fc *FileConfig) []byte {
	t.Helper()
	b, err := json.Marshal(fc)
	if err != nil {
		t.Fatalf("json.Marshal(%+v) = %v", fc, err)
	}
	return b
}
