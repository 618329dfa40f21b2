package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"

	"github.com/agentd/agent/gossip/nettransport"
)

// openTransport gives memberlist our network transport (see package
// nettransport: the same wire, without a 64 KB allocation per packet
// received) unless the configuration brings its own. With BindPort 0 the
// chosen port is also the advertised one, as memberlist does.
func (n *Node) openTransport(mc *memberlist.Config) error {
	if mc.Transport != nil {
		return nil
	}
	t, err := nettransport.New(nettransport.Config{BindAddr: mc.BindAddr, BindPort: mc.BindPort, Logger: n.logger})
	if err != nil {
		return fmt.Errorf("open the network transport: %w", err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = t.Port()
		if mc.AdvertisePort == 0 {
			mc.AdvertisePort = t.Port()
		}
	}
	mc.Transport = t
	return nil
}
