package agent

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentd/agent/events"
	"github.com/hashicorp/mdns"
)

// DiscoverInterval is how often the local network is asked for members.
const DiscoverInterval = 60 * time.Second

// mdnsService is the mDNS service a cluster is announced under; Serf's
// name, so Serf agents and ours discover each other.
func mdnsService(cluster string) string { return "_serf_" + cluster + "._tcp" }

// startDiscovery announces this node on the local network under the
// cluster's mDNS service and, in the background, asks for the other
// announcers now and every DiscoverInterval, joining those that are not
// members yet.
func (a *Agent) startDiscovery() error {
	if a.cfg.Discover == "" {
		return nil
	}
	service := mdnsService(a.cfg.Discover)
	var iface *net.Interface
	if name := a.cfg.MDNSInterface; name != "" {
		var err error
		if iface, err = net.InterfaceByName(name); err != nil {
			return fmt.Errorf("discover: mdns interface %q: %w", name, err)
		}
	}
	self := a.node.LocalMember()
	zone, err := mdns.NewMDNSService(a.cfg.NodeName, service, "", "", int(self.Port), []net.IP{self.Addr},
		[]string{fmt.Sprintf("agent %q cluster", a.cfg.Discover)})
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	quiet := log.New(io.Discard, "", 0)
	server, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: iface, Logger: quiet})
	if err != nil {
		return fmt.Errorf("discover: announce on mDNS: %w", err)
	}
	a.logger.Info("discovering members on the local network", "service", service)
	lookup := func(ctx context.Context) ([]string, error) {
		entries := make(chan *mdns.ServiceEntry, 64)
		var found []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			for e := range entries {
				if strings.HasPrefix(e.Name, a.cfg.NodeName+".") {
					continue // ourselves
				}
				ip := e.AddrV4
				if ip == nil && e.AddrV6IPAddr != nil {
					ip = e.AddrV6IPAddr.IP
				}
				if ip != nil && e.Port > 0 {
					found = append(found, net.JoinHostPort(ip.String(), strconv.Itoa(e.Port)))
				}
			}
		}()
		err := mdns.QueryContext(ctx, &mdns.QueryParam{Service: service, Domain: "local", Timeout: time.Second,
			Interface: iface, Entries: entries, DisableIPv4: a.cfg.MDNSDisableIPv4, DisableIPv6: a.cfg.MDNSDisableIPv6, Logger: quiet})
		close(entries)
		<-done
		return found, err
	}
	a.goLoop(func() {
		defer server.Shutdown()
		a.discoverLoop(lookup, DiscoverInterval)
	})
	return nil
}

// discoverLoop asks lookup for announced members every interval, from
// now, and joins the ones this node does not list alive.
func (a *Agent) discoverLoop(lookup func(context.Context) ([]string, error), interval time.Duration) {
	for {
		found, err := lookup(a.ctx)
		if err != nil && a.ctx.Err() == nil {
			a.logger.Warn("discover: mDNS query failed", "err", err)
		}
		if fresh := a.notMembers(found); len(fresh) > 0 {
			n, err := a.node.Join(a.ctx, fresh, false)
			a.logger.Info("discover: joined announced members", "addrs", fresh, "joined", n, "err", err)
		}
		if !a.sleep(interval) {
			return
		}
	}
}

// notMembers returns the addresses no alive member has.
func (a *Agent) notMembers(addrs []string) []string {
	known := map[string]bool{}
	for _, m := range a.node.Members() {
		if m.Status == events.StatusAlive {
			known[net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))] = true
		}
	}
	var out []string
	for _, addr := range addrs {
		if !known[addr] && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	return out
}
