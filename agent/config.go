package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string ("30s").
type Duration struct{ time.Duration }

// UnmarshalJSON accepts "30s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string like \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: negative", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MDNSConfig is Serf's "mdns" block.
type MDNSConfig struct {
	Interface   *string `json:"interface,omitempty"`
	DisableIPv4 *bool   `json:"disable_ipv4,omitempty"`
	DisableIPv6 *bool   `json:"disable_ipv6,omitempty"`
}

// FileConfig is one layer of configuration: a JSON file, or the flags.
// Every key is Serf's, so a Serf agent's config file loads unchanged. A nil
// field was not set in this layer; Merge lets a set field (even false or 0)
// override, merges tags per key and appends lists.
type FileConfig struct {
	NodeName               *string           `json:"node_name,omitempty"`
	Role                   *string           `json:"role,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
	TagsFile               *string           `json:"tags_file,omitempty"`
	BindAddr               *string           `json:"bind,omitempty"`
	Interface              *string           `json:"interface,omitempty"`
	AdvertiseAddr          *string           `json:"advertise,omitempty"`
	EncryptKey             *string           `json:"encrypt_key,omitempty"`
	KeyringFile            *string           `json:"keyring_file,omitempty"`
	EventHandlers          []string          `json:"event_handlers,omitempty"`
	StartJoin              []string          `json:"start_join,omitempty"`
	ReplayOnJoin           *bool             `json:"replay_on_join,omitempty"`
	RetryJoin              []string          `json:"retry_join,omitempty"`
	RetryMaxAttempts       *int              `json:"retry_max_attempts,omitempty"`
	RetryInterval          *Duration         `json:"retry_interval,omitempty"`
	RejoinAfterLeave       *bool             `json:"rejoin_after_leave,omitempty"`
	SnapshotPath           *string           `json:"snapshot_path,omitempty"`
	LogLevel               *string           `json:"log_level,omitempty"`
	LogJSON                *bool             `json:"log_json,omitempty"`
	RPCAddr                *string           `json:"rpc_addr,omitempty"`
	RPCAuthKey             *string           `json:"rpc_auth,omitempty"`
	Profile                *string           `json:"profile,omitempty"`
	Protocol               *int              `json:"protocol,omitempty"`
	Discover               *string           `json:"discover,omitempty"`
	MDNS                   *MDNSConfig       `json:"mdns,omitempty"`
	EnableSyslog           *bool             `json:"enable_syslog,omitempty"`
	SyslogFacility         *string           `json:"syslog_facility,omitempty"`
	BroadcastTimeout       *Duration         `json:"broadcast_timeout,omitempty"`
	LeaveOnTerm            *bool             `json:"leave_on_terminate,omitempty"`
	SkipLeaveOnInt         *bool             `json:"skip_leave_on_interrupt,omitempty"`
	ReconnectInterval      *Duration         `json:"reconnect_interval,omitempty"`
	ReconnectTimeout       *Duration         `json:"reconnect_timeout,omitempty"`
	TombstoneTimeout       *Duration         `json:"tombstone_timeout,omitempty"`
	DisableNameResolution  *bool             `json:"disable_name_resolution,omitempty"`
	StatsiteAddr           *string           `json:"statsite_addr,omitempty"`
	StatsdAddr             *string           `json:"statsd_addr,omitempty"`
	QuerySizeLimit         *int              `json:"query_size_limit,omitempty"`
	QueryResponseSizeLimit *int              `json:"query_response_size_limit,omitempty"`
	UserEventSizeLimit     *int              `json:"user_event_size_limit,omitempty"`
	// HandlerTimeout is ours, not Serf's: the limit on one handler run.
	HandlerTimeout *Duration `json:"handler_timeout,omitempty"`
	// ClusterLabel is ours (memberlist's label): clusters with different
	// labels never merge.
	ClusterLabel *string `json:"cluster_label,omitempty"`
	// EncryptVerifyIncoming and EncryptVerifyOutgoing are ours (Consul's
	// names): set false while switching a cluster to encryption.
	EncryptVerifyIncoming *bool `json:"encrypt_verify_incoming,omitempty"`
	EncryptVerifyOutgoing *bool `json:"encrypt_verify_outgoing,omitempty"`
	// RPCTLSCertFile, RPCTLSKeyFile and RPCTLSCAFile are ours: TLS on the
	// TCP RPC listener, with client certificates checked against the CA.
	RPCTLSCertFile *string `json:"rpc_tls_cert_file,omitempty"`
	RPCTLSKeyFile  *string `json:"rpc_tls_key_file,omitempty"`
	RPCTLSCAFile   *string `json:"rpc_tls_ca_file,omitempty"`
	// MetricsAddr is ours: where to serve Prometheus metrics.
	MetricsAddr        *string `json:"metrics_addr,omitempty"`
	DisableCoordinates *bool   `json:"disable_coordinates,omitempty"`
	EnableCompression  *bool   `json:"enable_compression,omitempty"`
	ValidateNodeNames  *bool   `json:"validate_node_names,omitempty"`
}

// ParseConfig reads one JSON config layer. Unknown keys are errors that name
// the key; name says where the input came from.
func ParseConfig(r io.Reader, name string) (*FileConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fc FileConfig
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, describeJSONError(err, data))
	}
	if dec.More() {
		return nil, fmt.Errorf("config %s: trailing data after the JSON object", name)
	}
	return &fc, nil
}

// describeJSONError turns encoding/json's errors into what a person editing
// the file needs: the key, and the line.
func describeJSONError(err error, data []byte) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("line %d: %v", lineOf(data, syn.Offset), syn)
	case errors.As(err, &typ):
		return fmt.Errorf("key %q on line %d: want %s, got %s", typ.Field, lineOf(data, typ.Offset), typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown key %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.EOF):
		return errors.New("empty file; want a JSON object")
	}
	return err
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}

// LoadConfigPath reads a config file, or every *.json file of a directory in
// lexical order, merged in that order.
func LoadConfigPath(path string) (*FileConfig, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("config dir %s: %w", path, err)
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	merged := &FileConfig{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", f, err)
		}
		fc, err := ParseConfig(fh, f)
		fh.Close()
		if err != nil {
			return nil, err
		}
		merged.Merge(fc)
	}
	return merged, nil
}

// Merge layers other over c: set scalars override, tags merge per key,
// lists append.
func (c *FileConfig) Merge(other *FileConfig) {
	if other == nil {
		return
	}
	dst, src := reflect.ValueOf(c).Elem(), reflect.ValueOf(other).Elem()
	for i := range dst.NumField() {
		d, s := dst.Field(i), src.Field(i)
		switch s.Kind() {
		case reflect.Pointer:
			if !s.IsNil() {
				d.Set(s)
			}
		case reflect.Map:
			if s.Len() == 0 {
				continue
			}
			if d.IsNil() {
				d.Set(reflect.MakeMapWithSize(s.Type(), s.Len()))
			}
			for _, k := range s.MapKeys() {
				d.SetMapIndex(k, s.MapIndex(k))
			}
		case reflect.Slice:
			d.Set(reflect.AppendSlice(d, s))
		}
	}
}
