package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// TraceContext is a parsed W3C traceparent (version 00).
type TraceContext struct {
	TraceID string // 32 lowercase hex digits, not all zero
	SpanID  string // 16 lowercase hex digits, not all zero
	Sampled bool
}

// String formats the traceparent header value.
func (tc TraceContext) String() string {
	flags := "00"
	if tc.Sampled {
		flags = "01"
	}
	return "00-" + tc.TraceID + "-" + tc.SpanID + "-" + flags
}

// NewTrace starts a new trace (sampled) with a random trace and span ID.
func NewTrace() TraceContext {
	return TraceContext{TraceID: randomHex(16), SpanID: randomHex(8), Sampled: true}
}

// Child returns the context of a new span in the same trace.
func (tc TraceContext) Child() TraceContext {
	return TraceContext{TraceID: tc.TraceID, SpanID: randomHex(8), Sampled: tc.Sampled}
}

// ParseTraceparent parses a traceparent header value. Per the W3C spec, unknown future
// versions are read by their version-00 prefix, and invalid values are ignored (ok false)
// so the receiver starts a new trace instead of failing.
func ParseTraceparent(s string) (TraceContext, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return TraceContext{}, false
	}
	ver, tid, sid, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	if !isHex(ver) || ver == "ff" || (ver == "00" && len(s) != 55) || (ver != "00" && len(s) > 55 && s[55] != '-') {
		return TraceContext{}, false
	}
	if !isHex(tid) || !isHex(sid) || !isHex(flags) || tid == strings.Repeat("0", 32) || sid == strings.Repeat("0", 16) {
		return TraceContext{}, false
	}
	fb, _ := hex.DecodeString(flags)
	return TraceContext{TraceID: tid, SpanID: sid, Sampled: fb[0]&1 == 1}, true
}

type traceKey struct{}

// ContextWithTrace returns ctx carrying tc.
func ContextWithTrace(ctx context.Context, tc TraceContext) context.Context {
	return context.WithValue(ctx, traceKey{}, tc)
}

// TraceFrom returns the trace context ctx carries.
func TraceFrom(ctx context.Context) (TraceContext, bool) {
	tc, ok := ctx.Value(traceKey{}).(TraceContext)
	return tc, ok
}

// Traceparent returns the traceparent to send on an outgoing message or request made
// within ctx: a child span of ctx's trace, or a new trace when ctx carries none.
func Traceparent(ctx context.Context) string {
	if tc, ok := TraceFrom(ctx); ok {
		return tc.Child().String()
	}
	return NewTrace().String()
}

// ContextFromTraceparent continues the trace named by an incoming traceparent (as a new
// child span), or starts a new trace when it is absent or invalid.
func ContextFromTraceparent(ctx context.Context, traceparent string) context.Context {
	if tc, ok := ParseTraceparent(traceparent); ok {
		return ContextWithTrace(ctx, tc.Child())
	}
	return ContextWithTrace(ctx, NewTrace())
}

func randomHex(n int) string {
	b := make([]byte, n)
	for {
		_, _ = rand.Read(b) // never fails on supported platforms
		for _, c := range b {
			if c != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
