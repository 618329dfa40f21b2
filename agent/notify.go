package agent

import (
	"fmt"
	"net"
	"os"
)

// notifySystemd sends state (e.g. "READY=1") to the service manager when
// it asked for it through $NOTIFY_SOCKET (systemd's Type=notify), and does
// nothing otherwise. An abstract socket is written with a leading '@'.
func notifySystemd(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}
