package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/telemetry"
)

const jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmcm9udGVuZCJ9.c2lnbmF0dXJlLWJ5dGVz"

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"token " + jwt + " expired":              "token [REDACTED] expired",
		"Authorization: Bearer abcdefghijklmnop": "Authorization: Bearer [REDACTED]",
		"DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=Eby8vdM02x==;BlobEndpoint=x": "DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=[REDACTED];BlobEndpoint=x",
		"Endpoint=sb://ns/;SharedAccessKeyName=Root;SharedAccessKey=abc+def=":                   "Endpoint=sb://ns/;SharedAccessKeyName=Root;SharedAccessKey=[REDACTED]",
		"GET https://a.blob.core.windows.net/c/b?sv=2020&sig=AbC%2Fd&se=1":                      "GET https://a.blob.core.windows.net/c/b?sv=2020&sig=[REDACTED]&se=1",
		"auth type=master&ver=1.0&sig=QWxhZGRpbjpvcGVu failed":                                  "auth type=master&ver=1.0&sig=[REDACTED] failed",
		"form client_assertion=" + jwt + "&client_id=x":                                         "form client_assertion=[REDACTED]&client_id=x",
		"nothing secret here: order 42 for alice":                                               "nothing secret here: order 42 for alice",
	}
	for in, want := range cases {
		if got := telemetry.Redact(in); got != want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestLoggerRedactsAndCarriesTrace(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelInfo, "backend")
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	log.InfoContext(ctx, "connecting",
		"connection_string", "Endpoint=sb://x;SharedAccessKey=k",
		"signing_key", []byte("k3y"),
		"key", "raw",
		"key_version", "v1",
		"err", errors.New("401 for Bearer "+jwt),
		"url", "https://kv-orderflow.vault.azure.net/",
	)
	log.Debug("hidden")
	// Without a span in the context, the line carries no trace fields.
	log.Info("untraced")
	var rec map[string]any
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two lines, got %q", buf.String())
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not a JSON line: %q", lines[0])
	}
	for k, want := range map[string]any{
		"connection_string": "[REDACTED]", "signing_key": "[REDACTED]", "key": "[REDACTED]",
		"key_version": "v1", "err": "401 for Bearer [REDACTED]", "url": "https://kv-orderflow.vault.azure.net/",
		"service": "backend", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "msg": "connecting",
	} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	if strings.Contains(buf.String(), "k3y") || strings.Contains(buf.String(), jwt) || strings.Contains(buf.String(), "hidden") {
		t.Errorf("leak or wrong level: %s", buf.String())
	}
	var untraced map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &untraced); err != nil || untraced["msg"] != "untraced" {
		t.Fatalf("second line %q: %v", lines[1], err)
	}
	if _, ok := untraced["trace_id"]; ok {
		t.Errorf("untraced line has a trace_id: %s", lines[1])
	}
}
