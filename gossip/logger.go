package gossip

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
)

// discardLogger is used when Config.Logger is nil.
func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// logWriter turns memberlist's "[LEVEL] memberlist: message" lines into slog
// records at the matching level.
type logWriter struct {
	logger *slog.Logger
}

func newMemberlistLogger(logger *slog.Logger) *log.Logger {
	return log.New(logWriter{logger: logger.With("component", "memberlist")}, "", 0)
}

var levelPrefixes = []struct {
	prefix string
	level  slog.Level
}{
	{"[TRACE]", slog.LevelDebug - 4},
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

func (w logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if rest, ok := strings.CutPrefix(line, lp.prefix); ok {
			level, line = lp.level, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if w.logger.Enabled(context.Background(), level) {
		w.logger.Log(context.Background(), level, line)
	}
	return len(p), nil
}

var _ io.Writer = logWriter{}
