package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Flag value types. Each implements pflag.Value; Set's error is reported by
// cobra as a usage error naming the flag.

// keyValues is a repeatable KEY=VALUE flag (--tag, --set). A repeated key
// keeps the last value.
type keyValues struct {
	m   map[string]string
	typ string // shown in help: "key=value", "key=regexp"
}

func newKeyValues(typ string) *keyValues { return &keyValues{typ: typ} }

func (kv *keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want %s, got %q", strings.ToUpper(kv.typ), s)
	}
	if kv.m == nil {
		kv.m = map[string]string{}
	}
	kv.m[k] = v
	return nil
}

func (kv *keyValues) String() string { return joinTags(kv.m) }

func (kv *keyValues) Type() string { return kv.typ }

// joinTags formats tags as "k=v,k=v", sorted by key.
func joinTags(tags map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(tags)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + tags[k])
	}
	return b.String()
}

// pathList appends to a list shared by several flags, so that values keep
// their command-line order across flags (--config-file, --config-dir).
type pathList struct {
	paths *[]string
	typ   string
}

func (p pathList) Set(s string) error {
	if s == "" {
		return errors.New("empty path")
	}
	*p.paths = append(*p.paths, s)
	return nil
}

func (p pathList) String() string { return "" }

func (p pathList) Type() string { return p.typ }

// durationValue is a non-negative duration in Go syntax ("30s", "1h30m").
type durationValue struct{ d time.Duration }

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like 30s or 5m, got %q", s)
	}
	if d < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	v.d = d
	return nil
}

func (v *durationValue) String() string {
	if v.d == 0 {
		return ""
	}
	return v.d.String()
}

func (v *durationValue) Type() string { return "DURATION" }

// Output formats of read commands.
const (
	formatText = "text"
	formatJSON = "json"
)

// formatValue is --format: text or json.
type formatValue struct{ f string }

func (v *formatValue) Set(s string) error {
	switch s {
	case formatText, formatJSON:
		v.f = s
		return nil
	}
	return fmt.Errorf("want text or json, got %q", s)
}

func (v *formatValue) String() string { return v.f }

func (v *formatValue) Type() string { return "format" }
