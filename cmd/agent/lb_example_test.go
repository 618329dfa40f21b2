package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadBalancerExample runs docs/examples/load-balancer as a user
// would: a real nginx whose upstream list the example's handler keeps
// equal to the alive web members. Three web members serve distinct pages;
// requests through nginx reach all of them; one member is killed and
// nginx stops sending to it, though its web server still answers.
func TestLoadBalancerExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	nginx := findNginx()
	if nginx == "" {
		t.Skip("nginx is not installed (apt-get install nginx-light; .ci/run does): the load-balancer example is not run")
	}
	handler, err := filepath.Abs("../../docs/examples/load-balancer/lb-handler.sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildAgent(t)
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+filepath.Dir(nginx)+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()

	// Three web servers, distinct pages.
	var webPorts []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "web-%d", i) }))
		t.Cleanup(srv.Close)
		webPorts = append(webPorts, strings.TrimPrefix(srv.URL, "http://127.0.0.1:"))
	}

	// nginx, in the foreground, proxying to the upstream file the handler writes.
	upstream := filepath.Join(dir, "upstream.conf")
	if err := os.WriteFile(upstream, []byte("upstream web { server 127.0.0.1:9 down; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lbPort := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, upstream, lbPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := exec.Command(nginx, "-p", dir, "-c", conf)
	ng.Stdout, ng.Stderr = io.Discard, io.Discard
	if err := ng.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { _ = ng.Process.Signal(syscall.SIGQUIT); _ = ng.Wait() })

	// The load balancer's agent runs the example's handler; the web agents
	// carry role=web and their port.
	spec := fmt.Sprintf("member-join,member-leave,member-failed,member-update=%s %%s %s -p %s -c %s", handler, upstream, dir, conf)
	lb := startProcess(t, bin, "lb", func(gossip, rpc string) []string {
		return []string{"run", "--node", "lb", "--bind", gossip, "--rpc-addr", rpc, "--profile", "local", "--log-level", "debug",
			"--event-handler", fmt.Sprintf(spec, rpc)}
	})
	waitListening(t, lb)
	var webs []*proc
	for i, port := range webPorts {
		p := startAgent(t, bin, fmt.Sprintf("web-%d", i), lb.gossip, "--profile", "local", "--tag", "port="+port)
		webs = append(webs, p)
	}

	url := "http://127.0.0.1:" + strconv.Itoa(lbPort) + "/"
	seen := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			resp, err := http.Get(url)
			if err != nil {
				got["error: "+err.Error()]++
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
		}
		return got
	}
	waitUntil(t, 60*time.Second, func() string {
		got := seen(30)
		for i := range 3 {
			if got[fmt.Sprintf("200 web-%d", i)] == 0 {
				return fmt.Sprintf("requests through nginx do not reach every web member yet: %v", got)
			}
		}
		return ""
	})

	if err := webs[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, func() string {
		got := seen(30)
		if got["200 web-1"] > 0 || got["200 web-0"] == 0 || got["200 web-2"] == 0 {
			return fmt.Sprintf("after web-1 was killed, requests went to: %v", got)
		}
		return ""
	})
}

// findNginx returns the nginx binary's path, or "" if there is none.
func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// nginxConf is a minimal foreground nginx proxying 127.0.0.1:port to the
// upstream "web", with every path under dir.
func nginxConf(dir, upstream string, port int) string {
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the default, nobody, cannot use the temp paths in a 0700 test directory
	}
	return fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[3]s;
    server {
        listen 127.0.0.1:%[4]d;
        location / {
            proxy_pass http://web;
            proxy_next_upstream off;
        }
    }
}
`, user, dir, upstream, port)
}

// waitUntil polls cond every 200 ms until it returns "" or limit passes.
func waitUntil(t *testing.T, limit time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
