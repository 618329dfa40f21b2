package rpc

import (
	"log/slog"
	"strings"
)

// LevelTrace is the slog level a monitor at "TRACE" asks for: below Debug,
// as in the gossip layer's mapping of memberlist's [TRACE] lines.
const LevelTrace = slog.LevelDebug - 4

// parseLogLevel maps Serf's monitor levels (TRACE, DEBUG, INFO, WARN, ERR;
// any case) to slog levels. WARNING and ERROR are accepted too.
func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(s) {
	case "TRACE":
		return LevelTrace, true
	case "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN", "WARNING":
		return slog.LevelWarn, true
	case "ERR", "ERROR":
		return slog.LevelError, true
	}
	return 0, false
}

// handleMonitor opens the connection's log monitor: the recent lines
// first, then live ones. As in Serf, the level is checked before the
// existing monitor, and the response is sent before subscribing.
func (c *conn) handleMonitor(req request) {
	r := req.body.(*monitorRequest)
	level, ok := parseLogLevel(r.LogLevel)
	if !ok {
		c.replyCmd(req, wireError(withDetail(ErrUnknownLogLevel, strings.ToUpper(r.LogLevel))), nil)
		return
	}
	if c.monitor != nil {
		c.replyCmd(req, ErrMonitorExists, nil)
		return
	}
	sub := newSubscription(req.seq)
	c.monitor = sub
	if !c.replyCmd(req, nil, nil) {
		return
	}
	recent, live, cancel := c.srv.cfg.Logs.SubscribeLogs(level)
	c.srv.wg.Go(func() { c.pumpLogs(sub, recent, live, cancel) })
}

// pumpLogs queues the recent lines, then live ones, until the monitor or
// the connection ends. It must never log: the line would come back to it
// through the log source it is draining.
func (c *conn) pumpLogs(sub *subscription, recent []string, live <-chan string, cancel func()) {
	for _, line := range recent {
		c.enqueueRecord(sub, &logRecord{Log: line})
	}
	pump(c, sub, live, cancel, func(line string) { c.enqueueRecord(sub, &logRecord{Log: line}) })
}
