package gossip

import (
	"fmt"
	"unicode"
)

// MaxNodeNameLength is the longest node name accepted (Serf's limit when
// it validates names).
const MaxNodeNameLength = 128

// ValidateNodeName checks a node name: not empty, at most
// MaxNodeNameLength bytes, no control characters (a newline or tab would
// garble handlers' input and logs). With strict (validate_node_names), only
// letters, digits, '-' and '.' are allowed, as in a host name.
func ValidateNodeName(name string, strict bool) error {
	switch {
	case name == "":
		return fmt.Errorf("node name is empty")
	case len(name) > MaxNodeNameLength:
		return fmt.Errorf("node name is %d bytes, over the limit of %d", len(name), MaxNodeNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("node name %q contains a control character or invalid UTF-8", name)
		}
		if strict && !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '.')) {
			return fmt.Errorf("node name %q: only letters, digits, '-' and '.' are allowed (validate_node_names)", name)
		}
	}
	return nil
}

// validateTagKeys checks that every tag key is non-empty and free of
// control characters (keys become SERF_TAG_* variables for handlers).
func validateTagKeys(tags map[string]string) error {
	for k := range tags {
		if k == "" {
			return fmt.Errorf("a tag key is empty")
		}
		for _, r := range k {
			if unicode.IsControl(r) || r == unicode.ReplacementChar {
				return fmt.Errorf("tag key %q contains a control character or invalid UTF-8", k)
			}
		}
	}
	return nil
}
