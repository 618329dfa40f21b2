package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"

	"github.com/agentd/agent/gossip/nettransport"
	"github.com/agentd/agent/gossip/streamzip"
)

// openTransport gives memberlist our network transport (see package
// nettransport: the same wire, without a 64 KB allocation per packet
// received) unless the configuration brings its own. With BindPort 0 the
// chosen port is also the advertised one, as memberlist does.
//
// With compression on and no encryption, memberlist's own compression is
// turned off and the transport compresses push/pull messages instead
// (package streamzip): the same bytes on the wire for push/pulls, and no
// LZW table per packet for pings, acks and gossip. With encryption the
// streams are encrypted before the transport sees them, so memberlist
// keeps compressing.
func (n *Node) openTransport(mc *memberlist.Config) error {
	if mc.Transport == nil {
		if err := n.openNetTransport(mc); err != nil {
			return err
		}
	}
	if nat, ok := mc.Transport.(memberlist.NodeAwareTransport); ok && mc.EnableCompression && mc.Keyring == nil {
		mc.EnableCompression = false
		mc.Transport = streamzip.Wrap(nat)
	}
	return nil
}

func (n *Node) openNetTransport(mc *memberlist.Config) error {
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
