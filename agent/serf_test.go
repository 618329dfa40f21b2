package agent

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// A user event fired on a Serf node runs our agent's handler with Serf's
// environment and the payload on stdin.
func TestSerfEventRunsOurHandler(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, gossipA, _ := startRun(t, "ours", &FileConfig{Profile: strp("local"),
		EventHandlers: []string{fmt.Sprintf(`user:deploy=echo "$SERF_EVENT $SERF_USER_EVENT $SERF_USER_LTIME $SERF_SELF_NAME $(cat)" >> %s`, out)}})

	conf := serf.DefaultConfig()
	conf.NodeName = "serf"
	conf.LogOutput = io.Discard
	conf.Logger = log.New(io.Discard, "", 0)
	mc := memberlist.DefaultLocalConfig()
	mc.BindAddr, mc.BindPort, mc.Logger = "127.0.0.1", 0, conf.Logger
	conf.MemberlistConfig = mc
	s, err := serf.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if _, err := s.Join([]string{gossipA}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.UserEvent("deploy", []byte("v42"), false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if got := string(b); got != "" {
			if want := "user deploy 1 ours v42\n"; got != want {
				t.Fatalf("handler wrote %q; want %q", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the Serf node's event did not run our handler within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
