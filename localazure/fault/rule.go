// Package fault injects the failures Azure services really produce, per service and
// operation, so that users and tests can watch the SDKs' retries and the app's
// invariants under them: 429 with the service's retry hint, 503, added latency, and
// for Service Bus dropped connections and lost locks. Rules come from
// localazure.json (LocalAzure.faults) and, while `localazure up` runs, from
// `localazure fault` (a file in the state directory the launcher watches).
package fault

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rule is one fault, as written in localazure.json and by `localazure fault`.
type Rule struct {
	// Service is identity, keyvault, cosmos, blob or servicebus.
	Service string `json:"service"`
	// Operation is read (GET, HEAD, Cosmos queries) or write (everything else);
	// empty means both. HTTP services only.
	Operation string `json:"operation,omitempty"`
	// Path limits the rule to requests whose URL path contains it, e.g. "/receipts/".
	Path string `json:"path,omitempty"`
	// Fault is throttle (429 with the service's retry hint; Blob Storage answers
	// 503 ServerBusy, as it does), unavailable (503), latency (the request is
	// served after a delay), or for servicebus: drop-connections, lose-locks.
	Fault string `json:"fault"`
	// Rate is the share of matching requests that fail, 0 < rate <= 1; default 1.
	Rate float64 `json:"rate,omitempty"`
	// Latency is the delay of a latency fault, e.g. "300ms".
	Latency string `json:"latency,omitempty"`
	// RetryAfter is the retry hint of a throttle fault; default "1s".
	RetryAfter string `json:"retryAfter,omitempty"`
	// Every repeats a Service Bus fault at this interval while the rule is active;
	// empty = once, when the rule is set.
	Every string `json:"every,omitempty"`
	// For is how long the rule stays active after it is set, e.g. "30s"; empty = until
	// it is removed (or, from localazure.json, while the stack runs).
	For string `json:"for,omitempty"`
}

// Services and faults that rules may name.
var (
	httpServices = []string{"identity", "keyvault", "cosmos", "blob"}
	httpFaults   = []string{"throttle", "unavailable", "latency"}
	busFaults    = []string{"drop-connections", "lose-locks"}
)

// compiled is a validated rule with its durations parsed.
type compiled struct {
	Rule
	rate       float64
	latency    time.Duration
	retryAfter time.Duration
	every      time.Duration
	until      time.Time // zero = no end
}

// Validate reports the first problem of r, naming the field and what to write.
func (r Rule) Validate() error {
	_, err := r.compile(time.Time{})
	return err
}

func (r Rule) compile(now time.Time) (compiled, error) {
	c := compiled{Rule: r, rate: r.Rate, retryAfter: time.Second}
	bus := r.Service == "servicebus"
	switch {
	case !bus && !slices.Contains(httpServices, r.Service):
		return c, fmt.Errorf("service %q: use one of %s, servicebus", r.Service, strings.Join(httpServices, ", "))
	case bus && !slices.Contains(busFaults, r.Fault):
		return c, fmt.Errorf("fault %q for servicebus: use %s", r.Fault, strings.Join(busFaults, " or "))
	case !bus && !slices.Contains(httpFaults, r.Fault):
		return c, fmt.Errorf("fault %q for %s: use %s", r.Fault, r.Service, strings.Join(httpFaults, ", "))
	case r.Operation != "" && r.Operation != "read" && r.Operation != "write":
		return c, fmt.Errorf("operation %q: use read, write or leave it out for both", r.Operation)
	case bus && (r.Operation != "" || r.Path != "" || r.Rate != 0):
		return c, fmt.Errorf("servicebus faults take no operation, path or rate: they act on the broker (use every to repeat)")
	case r.Rate < 0 || r.Rate > 1:
		return c, fmt.Errorf("rate %v: use a share between 0 and 1, e.g. 0.3", r.Rate)
	}
	if c.rate == 0 {
		c.rate = 1
	}
	var err error
	if c.latency, err = duration("latency", r.Latency); err != nil {
		return c, err
	}
	if r.Fault == "latency" && c.latency <= 0 {
		return c, fmt.Errorf("a latency fault needs latency, e.g. \"300ms\"")
	}
	if r.RetryAfter != "" {
		if c.retryAfter, err = duration("retryAfter", r.RetryAfter); err != nil {
			return c, err
		}
	}
	if c.every, err = duration("every", r.Every); err != nil {
		return c, err
	}
	if !bus && r.Every != "" {
		return c, fmt.Errorf("every is for servicebus faults; an HTTP fault applies to each matching request at its rate")
	}
	forD, err := duration("for", r.For)
	if err != nil {
		return c, err
	}
	if forD > 0 {
		c.until = now.Add(forD)
	}
	return c, nil
}

func duration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: write a Go duration such as \"500ms\" or \"30s\"", field, v)
	}
	return d, nil
}

func (c compiled) matches(service, op, path string) bool {
	return c.Service == service && (c.Operation == "" || c.Operation == op) && strings.Contains(path, c.Path)
}

// String renders a rule for logs and `localazure fault list`.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Service)
	if r.Operation != "" {
		b.WriteString(" " + r.Operation)
	}
	if r.Path != "" {
		fmt.Fprintf(&b, " path~%q", r.Path)
	}
	b.WriteString(" " + r.Fault)
	if r.Rate != 0 && r.Rate != 1 {
		fmt.Fprintf(&b, " rate=%g", r.Rate)
	}
	for _, kv := range [][2]string{{"latency", r.Latency}, {"retryAfter", r.RetryAfter}, {"every", r.Every}, {"for", r.For}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	return b.String()
}
