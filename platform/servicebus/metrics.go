package servicebus

import (
	"context"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/metrics"
)

// Option configures the publishers and receivers.
type Option func(*options)

type options struct {
	metrics *metrics.Metrics
}

// WithMetrics records every send, receive and settlement in m's dependency metrics
// (dependency "servicebus"). The Go SDK has no pipeline to hook as the HTTP-based
// clients do (platform/azure), so this package measures its own calls.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

func apply(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Operation label values.
const (
	opSend       = "send"
	opReceive    = "receive"
	opComplete   = "complete"
	opAbandon    = "abandon"
	opDeadLetter = "dead_letter"
	opRenewLock  = "renew_lock"
)

// observe records one call that began at start and ended with err (the SDK's, before
// wrap). A call the caller cancelled is not recorded: it says nothing about the
// broker, and every receive ends that way at shutdown. A receive is counted but not
// timed, because it waits for a message to arrive: its duration is the queue's
// idleness, not the broker's latency, and would swamp the histogram.
func observe(m *metrics.Metrics, operation string, start time.Time, err error) {
	if m == nil || errors.Is(err, context.Canceled) {
		return
	}
	outcome, code := metrics.OutcomeOK, "ok"
	if err != nil {
		outcome, code = metrics.OutcomeError, errorCode(err)
	}
	if operation == opReceive {
		m.DependencyCalls.WithLabelValues(metrics.DependencyServiceBus, operation, outcome, code).Inc()
		return
	}
	m.ObserveCall(metrics.DependencyServiceBus, operation, outcome, code, time.Since(start).Seconds())
}

// errorCode is the code label of a failed call: the SDK's error code (a small fixed
// set: locklost, connlost, timeout, unauthorized, notfound, closed), "timeout" for a
// deadline, or "other".
func errorCode(err error) string {
	var sbe *azservicebus.Error
	switch {
	case errors.As(err, &sbe):
		return string(sbe.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}
