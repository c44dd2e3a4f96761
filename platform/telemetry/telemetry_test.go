package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

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
	tc := telemetry.NewTrace()
	ctx := telemetry.ContextWithTrace(context.Background(), tc)
	log.InfoContext(ctx, "connecting",
		"connection_string", "Endpoint=sb://x;SharedAccessKey=k",
		"signing_key", []byte("k3y"),
		"key", "raw",
		"key_version", "v1",
		"err", errors.New("401 for Bearer "+jwt),
		"url", "https://kv-orderflow.vault.azure.net/",
	)
	log.Debug("hidden")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	for k, want := range map[string]any{
		"connection_string": "[REDACTED]", "signing_key": "[REDACTED]", "key": "[REDACTED]",
		"key_version": "v1", "err": "401 for Bearer [REDACTED]", "url": "https://kv-orderflow.vault.azure.net/",
		"service": "backend", "trace_id": tc.TraceID, "span_id": tc.SpanID, "msg": "connecting",
	} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	if strings.Contains(buf.String(), "k3y") || strings.Contains(buf.String(), jwt) || strings.Contains(buf.String(), "hidden") {
		t.Errorf("leak or wrong level: %s", buf.String())
	}
}

func TestTraceparent(t *testing.T) {
	tc := telemetry.NewTrace()
	s := tc.String()
	back, ok := telemetry.ParseTraceparent(s)
	if !ok || back != tc || len(s) != 55 || !strings.HasSuffix(s, "-01") {
		t.Fatalf("round trip %q → %+v %v", s, back, ok)
	}
	// A child keeps the trace and changes the span.
	ctx := telemetry.ContextWithTrace(context.Background(), tc)
	child, ok := telemetry.ParseTraceparent(telemetry.Traceparent(ctx))
	if !ok || child.TraceID != tc.TraceID || child.SpanID == tc.SpanID {
		t.Errorf("child %+v of %+v", child, tc)
	}
	// Continuing an incoming trace.
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	got, _ := telemetry.TraceFrom(telemetry.ContextFromTraceparent(context.Background(), in))
	if got.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || got.SpanID == "00f067aa0ba902b7" {
		t.Errorf("continued trace = %+v", got)
	}
	for _, bad := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"} {
		if _, ok := telemetry.ParseTraceparent(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
	// A future version with extra fields is read by its 00 prefix.
	if _, ok := telemetry.ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever"); !ok {
		t.Error("future version refused")
	}
	// An invalid incoming value starts a new trace rather than failing.
	if _, ok := telemetry.TraceFrom(telemetry.ContextFromTraceparent(context.Background(), "garbage")); !ok {
		t.Error("no trace after invalid traceparent")
	}
}
