package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd/agent/internal/testlog"
	"github.com/agentd/agent/rpc"
)

func TestTagsFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("role=web"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(&FileConfig{TagsFile: strp(bad)}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Resolve with a tags file that is not JSON = %v; want an error naming it", err)
	}
	if data, _ := os.ReadFile(bad); string(data) != "role=web" {
		t.Fatal("the bad tags file was changed")
	}

	path := filepath.Join(dir, "tags.json")
	rpcAddr, _, stop := runAgent(t, &FileConfig{NodeName: strp("tagged"), TagsFile: strp(path)}, &testlog.Buffer{})
	c, err := rpc.Dial(context.Background(), rpcAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTags(context.Background(), map[string]string{"role": "db", "zone": "eu"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTags(context.Background(), map[string]string{"": "x"}, nil); err == nil || !strings.Contains(err.Error(), "tag key is empty") {
		t.Errorf("an empty tag key over RPC: %v; want a clear refusal", err)
	}
	c.Close()
	stop()
	data, err := os.ReadFile(path)
	var saved map[string]string
	if err != nil || json.Unmarshal(data, &saved) != nil || saved["role"] != "db" || saved["zone"] != "eu" {
		t.Fatalf("tags file holds %q (%v); want role=db zone=eu", data, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("tags file mode %v; want 0600", st.Mode().Perm())
	}
	// A restart starts with the saved tags.
	cfg, err := Resolve(&FileConfig{NodeName: strp("tagged"), TagsFile: strp(path)})
	if err != nil || cfg.Tags["role"] != "db" {
		t.Fatalf("restart config tags %v, %v; want the saved ones", cfg.Tags, err)
	}
}
