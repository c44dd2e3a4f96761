// Package traceview is localazure's window on what the workloads did: it accepts
// their traces over OTLP/HTTP (the wire format of the OpenTelemetry exporters,
// decoded with the OTLP protobuf types), keeps the recent ones in memory, and
// serves a page that shows an order's trace as a timeline across services next to
// the stand-ins' access log (who called what, and which role allowed it).
package traceview

import (
	"encoding/hex"
	"slices"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Span is one received span, flattened for the page.
type Span struct {
	TraceID    string            `json:"traceId"`
	SpanID     string            `json:"spanId"`
	ParentID   string            `json:"parentId,omitempty"`
	Service    string            `json:"service"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	Error      bool              `json:"error,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// TraceSummary describes a kept trace in the list.
type TraceSummary struct {
	TraceID  string    `json:"traceId"`
	Root     string    `json:"root"` // the name of the earliest span
	Services []string  `json:"services"`
	Spans    int       `json:"spans"`
	Start    time.Time `json:"start"`
	Duration float64   `json:"durationMs"`
	Errors   int       `json:"errors"`
}

// Store keeps the spans of the most recent traces: at most maxTraces traces and
// maxSpans spans per trace, the oldest trace forgotten first.
type Store struct {
	maxTraces, maxSpans int

	mu     sync.Mutex
	traces map[string][]Span
	order  []string // trace ids, oldest first
}

// NewStore keeps up to maxTraces traces of up to maxSpans spans each.
func NewStore(maxTraces, maxSpans int) *Store {
	return &Store{maxTraces: maxTraces, maxSpans: maxSpans, traces: map[string][]Span{}}
}

// Add stores the spans of an OTLP export request and returns how many it kept.
func (s *Store) Add(rs []*tracepb.ResourceSpans) int {
	kept := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		service := attrString(r.GetResource().GetAttributes(), "service.name")
		for _, ss := range r.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				span := fromProto(service, sp)
				list, known := s.traces[span.TraceID]
				if !known {
					s.order = append(s.order, span.TraceID)
					if len(s.order) > s.maxTraces {
						delete(s.traces, s.order[0])
						s.order = s.order[1:]
					}
				}
				if len(list) >= s.maxSpans {
					continue
				}
				s.traces[span.TraceID] = append(list, span)
				kept++
			}
		}
	}
	return kept
}

// Trace returns the spans of one trace in start order (nil if unknown).
func (s *Store) Trace(id string) []Span {
	s.mu.Lock()
	spans := slices.Clone(s.traces[id])
	s.mu.Unlock()
	slices.SortFunc(spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return spans
}

// Recent summarises the kept traces, newest first.
func (s *Store) Recent() []TraceSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TraceSummary, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		spans := s.traces[s.order[i]]
		if len(spans) == 0 {
			continue
		}
		sum := TraceSummary{TraceID: s.order[i], Spans: len(spans), Start: spans[0].Start, Root: spans[0].Name}
		end := spans[0].End
		seen := map[string]bool{}
		for _, sp := range spans {
			if sp.Start.Before(sum.Start) {
				sum.Start, sum.Root = sp.Start, sp.Name
			}
			if sp.End.After(end) {
				end = sp.End
			}
			if sp.Error {
				sum.Errors++
			}
			if !seen[sp.Service] {
				seen[sp.Service] = true
				sum.Services = append(sum.Services, sp.Service)
			}
		}
		sum.Duration = float64(end.Sub(sum.Start).Microseconds()) / 1000
		slices.Sort(sum.Services)
		out = append(out, sum)
	}
	return out
}

var kinds = map[tracepb.Span_SpanKind]string{
	tracepb.Span_SPAN_KIND_INTERNAL: "internal", tracepb.Span_SPAN_KIND_SERVER: "server",
	tracepb.Span_SPAN_KIND_CLIENT: "client", tracepb.Span_SPAN_KIND_PRODUCER: "producer",
	tracepb.Span_SPAN_KIND_CONSUMER: "consumer",
}

func fromProto(service string, sp *tracepb.Span) Span {
	out := Span{
		TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
		Service: service, Name: sp.GetName(), Kind: kinds[sp.GetKind()],
		Start: time.Unix(0, int64(sp.GetStartTimeUnixNano())).UTC(),
		End:   time.Unix(0, int64(sp.GetEndTimeUnixNano())).UTC(),
		Error: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
	}
	if p := sp.GetParentSpanId(); len(p) > 0 {
		out.ParentID = hex.EncodeToString(p)
	}
	if len(sp.GetAttributes()) > 0 {
		out.Attributes = map[string]string{}
		for _, kv := range sp.GetAttributes() {
			out.Attributes[kv.GetKey()] = valueString(kv.GetValue())
		}
	}
	return out
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return valueString(kv.GetValue())
		}
	}
	return ""
}

func valueString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return formatInt(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_DoubleValue:
		return formatFloat(x.DoubleValue)
	}
	return ""
}
