// Package metrics defines every Prometheus metric orderflow's services export, in
// one place, so names, labels and buckets stay consistent between the frontend and
// the backend (docs/architecture.md, "Metrics", lists them).
//
// There is no global registry: each process makes one with NewRegistry in main and
// passes the *Metrics from New down to the pieces that observe. Code that is not
// given one (most tests) uses Discard, whose metrics are real but registered nowhere.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every orderflow metric, so they are told apart from the Go
// runtime's and from other workloads' in the shared Azure Monitor workspace.
const Namespace = "orderflow"

// Path is where both services serve the metrics (the PodMonitor scrapes it).
const Path = "/metrics"

// Role selects which metrics a process registers: only those it can move, so a
// scrape never shows, say, orders_completed_total stuck at 0 on the frontend.
type Role int

const (
	// Frontend registers the HTTP, dependency, placement, reconciler and SSE metrics.
	Frontend Role = iota
	// Backend registers the dependency, order completion and message metrics.
	Backend
)

// Outcome label values: a call or renewal either worked or did not.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// Dependency label values of DependencyCalls.
const (
	DependencyCosmos     = "cosmos"
	DependencyBlob       = "blob"
	DependencyKeyVault   = "keyvault"
	DependencyServiceBus = "servicebus"
)

// Metrics are the collectors of one process. Every field is always set, so callers
// observe without nil checks.
type Metrics struct {
	// HTTPRequests counts the frontend's requests by method, route template and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration is the frontend's request duration by method and route template.
	HTTPDuration *prometheus.HistogramVec

	// DependencyCalls counts calls to Azure services by dependency, operation,
	// outcome and code (the HTTP status, or the Service Bus error code).
	DependencyCalls *prometheus.CounterVec
	// DependencyDuration is the duration of those calls, retries included.
	DependencyDuration *prometheus.HistogramVec

	// OrdersPlaced counts orders the frontend stored (accepted with 202).
	OrdersPlaced prometheus.Counter
	// OrdersCompleted counts orders the backend marked Completed (once per order).
	OrdersCompleted prometheus.Counter
	// OrdersFailed counts orders the backend marked Failed.
	OrdersFailed prometheus.Counter
	// OrderLatency is created → completed of each order the backend completes.
	OrderLatency prometheus.Histogram

	// MessageProcessing is the worker's time per message, receipt to settlement, by disposition.
	MessageProcessing *prometheus.HistogramVec
	// MessageDeliveries is the delivery count of each message the worker processed.
	MessageDeliveries prometheus.Histogram
	// DeadLetters counts messages the worker dead-lettered, by reason.
	DeadLetters *prometheus.CounterVec
	// LockRenewals counts the worker's lock renewals by outcome.
	LockRenewals *prometheus.CounterVec
	// LockLosses counts messages whose lock was lost while the worker held them.
	LockLosses prometheus.Counter

	// ReconcilerResends counts OrderPlaced messages the outbox reconciler re-sent.
	ReconcilerResends prometheus.Counter
	// SSEClients is the number of open SSE status streams.
	SSEClients prometheus.Gauge

	gatherer prometheus.Gatherer
}

// Buckets, in seconds: HTTP requests and Azure calls are milliseconds to seconds;
// an order's end-to-end latency is seconds normally, minutes when retried.
var (
	requestBuckets    = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	processingBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	latencyBuckets    = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
	// Deliveries are small integers up to the queue's max delivery count (10).
	deliveryBuckets = []float64{1, 2, 3, 4, 5, 7, 10}
)

// NewRegistry returns a registry with the Go runtime and process collectors, the
// one registry of a process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New makes every metric and registers those of role on reg. It panics if reg
// already holds them, which is a wiring mistake.
func New(reg *prometheus.Registry, role Role) *Metrics {
	m := newMetrics()
	m.gatherer = reg
	var cs []prometheus.Collector
	switch role {
	case Frontend:
		cs = []prometheus.Collector{m.HTTPRequests, m.HTTPDuration, m.DependencyCalls, m.DependencyDuration,
			m.OrdersPlaced, m.ReconcilerResends, m.SSEClients}
	case Backend:
		cs = []prometheus.Collector{m.DependencyCalls, m.DependencyDuration,
			m.OrdersCompleted, m.OrdersFailed, m.OrderLatency,
			m.MessageProcessing, m.MessageDeliveries, m.DeadLetters, m.LockRenewals, m.LockLosses}
	}
	reg.MustRegister(cs...)
	return m
}

// Discard returns metrics registered nowhere: observing them works and costs what
// it costs in production, but nothing is exported. For components built without
// metrics (tests, tools).
func Discard() *Metrics {
	m := newMetrics()
	m.gatherer = prometheus.NewRegistry()
	return m
}

// Or returns m, or Discard() when m is nil, for constructors with optional metrics.
func Or(m *Metrics) *Metrics {
	if m != nil {
		return m
	}
	return Discard()
}

// Handler serves the process's registry in the Prometheus exposition format.
// Errors gathering one metric are served as HTTP 500 so a broken collector shows
// up as a failed scrape (the "up" series) rather than as silently missing data.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

func newMetrics() *Metrics {
	return &Metrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served by the frontend, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time the frontend took to serve an HTTP request, by method and route template.",
			Buckets: requestBuckets,
		}, []string{"method", "route"}),
		DependencyCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "dependency", Name: "calls_total",
			Help: "Calls to Azure services, by dependency, operation, outcome and code (HTTP status or Service Bus error code).",
		}, []string{"dependency", "operation", "outcome", "code"}),
		DependencyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "dependency", Name: "call_duration_seconds",
			Help:    "Duration of calls to Azure services including the SDK's retries, by dependency and operation.",
			Buckets: requestBuckets,
		}, []string{"dependency", "operation"}),
		OrdersPlaced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "orders", Name: "placed_total",
			Help: "Orders the frontend accepted and stored.",
		}),
		OrdersCompleted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "orders", Name: "completed_total",
			Help: "Orders the backend marked Completed, once per order.",
		}),
		OrdersFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "orders", Name: "failed_total",
			Help: "Orders the backend marked Failed.",
		}),
		OrderLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "orders", Name: "latency_seconds",
			Help:    "End-to-end latency of completed orders, from creation to completion.",
			Buckets: latencyBuckets,
		}),
		MessageProcessing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "messages", Name: "processing_duration_seconds",
			Help:    "Time the backend held a message from processing start to settlement, by disposition.",
			Buckets: processingBuckets,
		}, []string{"disposition"}),
		MessageDeliveries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "messages", Name: "delivery_attempts",
			Help:    "Delivery count of the messages the backend processed (1 is the first delivery).",
			Buckets: deliveryBuckets,
		}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "messages", Name: "dead_lettered_total",
			Help: "Messages the backend dead-lettered, by reason.",
		}, []string{"reason"}),
		LockRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "messages", Name: "lock_renewals_total",
			Help: "Message lock renewals by the backend, by outcome.",
		}, []string{"outcome"}),
		LockLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "messages", Name: "lock_losses_total",
			Help: "Messages whose lock was lost while the backend held them.",
		}),
		ReconcilerResends: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "reconciler", Name: "resends_total",
			Help: "OrderPlaced messages the outbox reconciler re-sent for orders left unpublished.",
		}),
		SSEClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "sse", Name: "clients",
			Help: "Open SSE order status streams.",
		}),
	}
}

// ObserveCall records one dependency call: its count by outcome and code, and its duration.
func (m *Metrics) ObserveCall(dependency, operation, outcome, code string, seconds float64) {
	m.DependencyCalls.WithLabelValues(dependency, operation, outcome, code).Inc()
	m.DependencyDuration.WithLabelValues(dependency, operation).Observe(seconds)
}
