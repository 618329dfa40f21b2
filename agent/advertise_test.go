package agent

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/agentd/agent/internal/testlog"
)

func TestChooseAdvertise(t *testing.T) {
	a := func(iface, ip string) ifaceAddr { return ifaceAddr{iface, netip.MustParseAddr(ip)} }
	lo := []ifaceAddr{a("lo", "127.0.0.1"), a("lo", "::1")}
	for _, tc := range []struct {
		name   string
		bind   string
		addrs  []ifaceAddr
		want   string
		public bool
		err    string
	}{
		{"private IPv4 first", "0.0.0.0", append(lo, a("eth0", "203.0.113.5"), a("eth1", "10.1.2.3")), "10.1.2.3", false, ""},
		{"shared range counts as private", "0.0.0.0", append(lo, a("eth0", "100.72.0.9")), "100.72.0.9", false, ""},
		{"first private wins", "0.0.0.0", []ifaceAddr{a("eth0", "192.168.1.5"), a("eth1", "172.16.0.2")}, "192.168.1.5", false, ""},
		{"public IPv4 as a last resort", "0.0.0.0", append(lo, a("eth0", "203.0.113.5"), a("eth0", "fe80::1")), "203.0.113.5", true, ""},
		{"IPv6 not advertised when bound to 0.0.0.0", "0.0.0.0", append(lo, a("eth0", "2001:db8::5")), "", false, "no an IPv4 address"},
		{"never loopback or link-local", "0.0.0.0", append(lo, a("eth0", "169.254.3.4")), "", false, "set advertise"},
		{"bound to ::, unique-local IPv6", "::", append(lo, a("eth0", "fd00::2"), a("eth0", "2001:db8::5")), "fd00::2", false, ""},
		{"bound to ::, private IPv4 still first", "::", append(lo, a("eth0", "2001:db8::5"), a("eth1", "10.0.0.7")), "10.0.0.7", false, ""},
		{"bound to ::, global IPv6", "::", append(lo, a("eth0", "2001:db8::5"), a("eth0", "fe80::1")), "2001:db8::5", false, ""},
		{"IPv4-mapped unmapped", "0.0.0.0", []ifaceAddr{a("eth0", "::ffff:10.9.8.7")}, "10.9.8.7", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, public, err := chooseAdvertise(tc.bind, tc.addrs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tc.err, "no ")) {
					t.Fatalf("chooseAdvertise = %v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got.ip.String() != tc.want || public != tc.public {
				t.Fatalf("chooseAdvertise = %v (public %t), %v; want %s (public %t)", got.ip, public, err, tc.want, tc.public)
			}
		})
	}
}

// Two agents bound to IPv6 loopback form a cluster.
func TestRunIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback here:", err)
	} else {
		ln.Close()
	}
	rpcA, gossipA, _ := runAgent(t, &FileConfig{NodeName: strp("v6-a"), BindAddr: strp("[::1]:0")}, &testlog.Buffer{})
	if !strings.HasPrefix(gossipA, "[::1]:") {
		t.Fatalf("gossip address %q; want [::1]:PORT", gossipA)
	}
	rpcB, _, _ := runAgent(t, &FileConfig{NodeName: strp("v6-b"), BindAddr: strp("[::1]:0"), StartJoin: []string{gossipA}}, &testlog.Buffer{})
	waitAlive(t, rpcA, 2)
	waitAlive(t, rpcB, 2)
}
