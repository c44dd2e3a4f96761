package mlog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLoggerWritesToSlog(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	New().WithName("handler").WithValues("pod", "p1").Error("failed", errors.New("boom"))
	for _, want := range []string{"level=ERROR", "logger=handler", "pod=p1", "err=boom", "msg=failed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
	if !Enabled(LevelInfo) || Enabled(LevelDebug) || Enabled("bogus") {
		t.Errorf("Enabled does not follow the handler's level (info)")
	}
}
