package gossip_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentd/agent/internal/testlog"
)

func TestClusterLabelKeepsClustersApart(t *testing.T) {
	var blueLog testlog.Buffer
	cfg := fastConfig(t, "blue-1")
	cfg.Label = "blue"
	cfg.Logger = slog.New(slog.NewTextHandler(&blueLog, nil))
	blue, _ := startNode(t, cfg)

	cfg = fastConfig(t, "blue-2")
	cfg.Label = "blue"
	blue2, _ := startNode(t, cfg)
	if _, err := blue2.Join(context.Background(), []string{blue.Addr()}, false); err != nil {
		t.Fatalf("same label: join failed: %v", err)
	}

	for _, label := range []string{"green", ""} {
		cfg := fastConfig(t, "other-"+label)
		cfg.Label = label
		other, _ := startNode(t, cfg)
		_, err := other.Join(context.Background(), []string{blue.Addr()}, false)
		if err == nil {
			t.Fatalf("label %q joined a cluster labelled blue", label)
		}
		t.Logf("label %q: %v", label, err)
		if !strings.Contains(err.Error(), "cluster label") {
			t.Errorf("label %q: join error %q does not name the likely cause", label, err)
		}
	}
	waitFor(t, 10*time.Second, func() string {
		if log := blueLog.String(); !strings.Contains(log, "unacceptable label") {
			return "the blue node's log does not say why it refused the stranger:\n" + log
		}
		return ""
	})
	for _, n := range []interface{ NumMembers() int }{blue, blue2} {
		if got := n.NumMembers(); got != 2 {
			t.Errorf("a blue node has %d members; want 2 (the strangers must not merge)", got)
		}
	}
}
