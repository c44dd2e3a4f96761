package mlog

import (
	"context"
	"log/slog"
)

// LogLevel names a verbosity, as the webhook's currentLogLevel iterates them.
type LogLevel string

// The levels the webhook asks Enabled about, most verbose first.
const (
	LevelAll     LogLevel = "all"
	LevelTrace   LogLevel = "trace"
	LevelDebug   LogLevel = "debug"
	LevelInfo    LogLevel = "info"
	LevelWarning LogLevel = "warning"
)

var slogLevels = map[LogLevel]slog.Level{
	LevelAll:     slog.LevelDebug - 8,
	LevelTrace:   slog.LevelDebug - 4,
	LevelDebug:   slog.LevelDebug,
	LevelInfo:    slog.LevelInfo,
	LevelWarning: slog.LevelWarn,
}

// Enabled reports whether the default slog handler would log at level.
func Enabled(level LogLevel) bool {
	l, ok := slogLevels[level]
	return ok && slog.Default().Enabled(context.Background(), l)
}

// Logger is a named logger with key-value context.
type Logger struct{ l *slog.Logger }

// New returns a logger on slog's default handler.
func New() Logger { return Logger{l: slog.Default()} }

// WithName adds the component name as the "logger" attribute.
func (g Logger) WithName(name string) Logger { return Logger{l: g.l.With("logger", name)} }

// WithValues adds key-value pairs to every record.
func (g Logger) WithValues(kv ...any) Logger { return Logger{l: g.l.With(kv...)} }

// Error logs msg at error level with err and key-value pairs.
func (g Logger) Error(msg string, err error, kv ...any) {
	g.l.Error(msg, append([]any{"err", err}, kv...)...)
}
