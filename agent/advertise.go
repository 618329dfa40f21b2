package agent

import (
	"fmt"
	"net"
	"net/netip"
)

// sharedRange is RFC 6598's carrier-grade NAT range, used by some cloud
// and overlay networks for private addressing.
var sharedRange = netip.MustParsePrefix("100.64.0.0/10")

// ifaceAddr is one address of a network interface.
type ifaceAddr struct {
	iface string
	ip    netip.Addr
}

// chooseAdvertise picks the address to advertise when bound to every
// interface (0.0.0.0 or ::), from the machine's addresses in interface
// order. In order of preference: a private IPv4 address (10/8, 172.16/12,
// 192.168/16) or one of the shared range 100.64/10; a unique-local IPv6
// address (fc00::/7); a global IPv6 address; any other global unicast IPv4
// address (public = true: the caller warns). Loopback, link-local and
// multicast addresses are never chosen; with bind 0.0.0.0, IPv6 ones
// neither.
func chooseAdvertise(bind string, addrs []ifaceAddr) (chosen ifaceAddr, public bool, err error) {
	v6ok := bind == "::"
	rank := func(ip netip.Addr) int {
		switch {
		case !ip.IsGlobalUnicast() || ip.IsLinkLocalUnicast():
			return 0 // loopback, link-local, multicast, unspecified
		case ip.Is4() && (ip.IsPrivate() || sharedRange.Contains(ip)):
			return 4
		case ip.Is6() && ip.IsPrivate() && v6ok:
			return 3
		case ip.Is6() && v6ok:
			return 2
		case ip.Is4():
			return 1
		}
		return 0
	}
	best := 0
	for _, a := range addrs {
		if r := rank(a.ip.Unmap()); r > best {
			best, chosen = r, ifaceAddr{a.iface, a.ip.Unmap()}
		}
	}
	if best == 0 {
		want := "an IPv4 address other than loopback and link-local"
		if v6ok {
			want = "an address other than loopback and link-local"
		}
		return ifaceAddr{}, false, fmt.Errorf("bound to %s but this machine has no %s to advertise; set advertise (--advertise) or bind to one address", bind, want)
	}
	return chosen, best == 1, nil
}

// machineAddrs lists the addresses of the interfaces that are up.
func machineAddrs() ([]ifaceAddr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []ifaceAddr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, ifaceAddr{ifc.Name, p.Addr()})
			}
		}
	}
	return out, nil
}
