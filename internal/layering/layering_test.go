package layering

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/agentd/agent"

// deps returns the module packages and third-party modules pkg imports,
// directly or not (tests excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestImportDirection(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string // import path prefixes
	}{
		{"events", []string{module + "/gossip", module + "/rpc", module + "/agent", module + "/handlers", module + "/cmd", "github.com/hashicorp/memberlist"}},
		{"gossip", []string{module + "/rpc", module + "/agent", module + "/handlers", module + "/cmd"}},
		{"rpc", []string{module + "/gossip", module + "/agent", module + "/handlers", module + "/cmd", "github.com/hashicorp/memberlist"}},
		{"handlers", []string{module + "/gossip", module + "/rpc", module + "/agent", module + "/cmd", "github.com/hashicorp/memberlist"}},
		{"agent", []string{module + "/cmd"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, d := range deps(t, tt.pkg) {
				if slices.ContainsFunc(tt.forbidden, func(f string) bool { return d == f || strings.HasPrefix(d, f+"/") }) {
					t.Errorf("%s imports %s; the layering forbids it", tt.pkg, d)
				}
			}
		})
	}
}
