package azure

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/contoso/orderflow/platform/metrics"
)

// Option configures New.
type Option func(*options)

type options struct {
	metrics *metrics.Metrics
}

// WithMetrics records every Cosmos DB, Blob Storage and Key Vault call in m's
// dependency metrics. Without it the calls are not measured.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// metricsPolicy counts and times one SDK operation. It is a per-call policy, ahead of
// the retry policy, so a retried call is one observation with its total duration and
// its final status: what the caller waited for and got.
type metricsPolicy struct {
	m          *metrics.Metrics
	dependency string
	operation  func(*http.Request) string
}

func newMetricsPolicy(m *metrics.Metrics, dependency string, operation func(*http.Request) string) policy.Policy {
	return metricsPolicy{m: m, dependency: dependency, operation: operation}
}

func (p metricsPolicy) Do(req *policy.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := req.Next()
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	p.m.ObserveCall(p.dependency, p.operation(req.Raw()), callOutcome(status, err), statusCode(status), time.Since(start).Seconds())
	return resp, err
}

// callOutcome is "error" for a failure worth alerting on. Not found, conflict and
// precondition failed are answers the adapters turn into ENOTFOUND, ECONFLICT and
// EPRECONDITION and the domain handles (a readiness probe reads something absent on
// purpose; a receipt is created only if absent; a stale etag is re-read), so they
// count as "ok" and stay visible in the code label.
func callOutcome(status int, err error) string {
	switch {
	case err != nil:
		return metrics.OutcomeError
	case status < 400, status == http.StatusNotFound, status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return metrics.OutcomeOK
	}
	return metrics.OutcomeError
}

// statusCode is the code label: the HTTP status, or "none" when no response came.
func statusCode(status int) string {
	if status == 0 {
		return "none"
	}
	return strconv.Itoa(status)
}

// segments splits a URL path into its non-empty segments.
func segments(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
}

// cosmosResources names the Cosmos DB REST resource types; anything else is "other",
// so the operation label has a fixed set of values whatever the path holds.
var cosmosResources = map[string]string{
	"dbs": "database", "colls": "collection", "docs": "document", "pkranges": "partition_key_ranges",
	"sprocs": "stored_procedure", "udfs": "udf", "triggers": "trigger", "users": "user",
	"permissions": "permission", "offers": "offer",
}

// cosmosOperation names a Cosmos DB call from its REST shape, verb_resource, e.g.
// read_document, query_document, replace_document: /dbs/{db}/colls/{coll}/docs/{id}
// alternates resource types and IDs, so an odd segment count addresses a feed (create,
// query, list) and an even one an item. IDs never reach the label.
func cosmosOperation(r *http.Request) string {
	segs := segments(r.URL.Path)
	if len(segs) == 0 {
		return "read_account"
	}
	feed := len(segs)%2 == 1
	kind := segs[len(segs)-1]
	if !feed {
		kind = segs[len(segs)-2]
	}
	resource, ok := cosmosResources[kind]
	if !ok {
		resource = "other"
	}
	var verb string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		verb = "read"
		if feed {
			verb = "list"
		}
	case http.MethodPost:
		switch {
		case strings.EqualFold(r.Header.Get("x-ms-documentdb-isquery"), "true"), strings.HasPrefix(r.Header.Get("Content-Type"), "application/query+json"):
			verb = "query"
		case strings.EqualFold(r.Header.Get("x-ms-documentdb-is-upsert"), "true"):
			verb = "upsert"
		default:
			verb = "create"
		}
	case http.MethodPut:
		verb = "replace"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = "other"
	}
	return verb + "_" + resource
}

// blobComps are the Blob REST "comp" values the operation label may carry.
var blobComps = map[string]bool{
	"block": true, "blocklist": true, "list": true, "properties": true, "metadata": true,
	"lease": true, "tags": true, "appendblock": true, "page": true, "snapshot": true,
}

// blobOperation names a Blob Storage call method_target[_comp], e.g. put_blob,
// put_blob_block, get_blob, head_blob, get_container_list: the target is the service,
// a container or a blob by the path's depth; container and blob names stay out.
func blobOperation(r *http.Request) string {
	target := "blob"
	switch n := len(segments(r.URL.Path)); {
	case n == 0:
		target = "service"
	case n == 1:
		target = "container"
	}
	op := strings.ToLower(r.Method) + "_" + target
	if comp := strings.ToLower(r.URL.Query().Get("comp")); comp != "" {
		if !blobComps[comp] {
			comp = "other"
		}
		op += "_" + comp
	}
	return op
}

// keyVaultOperation names a Key Vault call method_collection[_versions], e.g.
// get_secrets (one secret, a version or the latest) and get_secrets_versions;
// secret names and versions stay out.
func keyVaultOperation(r *http.Request) string {
	segs := segments(r.URL.Path)
	collection := "other"
	if len(segs) > 0 {
		switch segs[0] {
		case "secrets", "keys", "certificates":
			collection = segs[0]
		}
	}
	op := strings.ToLower(r.Method) + "_" + collection
	if len(segs) > 1 && segs[len(segs)-1] == "versions" {
		op += "_versions"
	}
	return op
}
