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

// pathShape is what the operation labels read of a URL path: how many non-empty
// segments it has, its first, and its last two. It is found without splitting the
// path, because the policy runs on every call and a label needs no more than this.
type pathShape struct {
	n                 int
	first, prev, last string
}

func shapeOf(path string) pathShape {
	var s pathShape
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		if seg == "" {
			continue
		}
		if s.n == 0 {
			s.first = seg
		}
		s.prev, s.last = s.last, seg
		s.n++
	}
	return s
}

// cosmosResources names the Cosmos DB REST resource types; anything else is "other",
// so the operation label has a fixed set of values whatever the path holds.
var cosmosResources = map[string]string{
	"dbs": "database", "colls": "collection", "docs": "document", "pkranges": "partition_key_ranges",
	"sprocs": "stored_procedure", "udfs": "udf", "triggers": "trigger", "users": "user",
	"permissions": "permission", "offers": "offer",
}

// cosmosVerbs are the verbs of the Cosmos DB operation labels.
var cosmosVerbs = []string{"read", "list", "query", "upsert", "create", "replace", "patch", "delete", "other"}

// cosmosLabels holds every verb_resource label, made once: the label set is fixed,
// so a call looks its label up instead of building the string.
var cosmosLabels = func() map[string]map[string]string {
	out := make(map[string]map[string]string, len(cosmosVerbs))
	for _, verb := range cosmosVerbs {
		byResource := make(map[string]string, len(cosmosResources)+1)
		for _, resource := range cosmosResources {
			byResource[resource] = verb + "_" + resource
		}
		byResource["other"] = verb + "_other"
		out[verb] = byResource
	}
	return out
}()

// cosmosOperation names a Cosmos DB call from its REST shape, verb_resource, e.g.
// read_document, query_document, replace_document: /dbs/{db}/colls/{coll}/docs/{id}
// alternates resource types and IDs, so an odd segment count addresses a feed (create,
// query, list) and an even one an item. IDs never reach the label.
func cosmosOperation(r *http.Request) string {
	path := shapeOf(r.URL.Path)
	if path.n == 0 {
		return "read_account"
	}
	feed := path.n%2 == 1
	kind := path.last
	if !feed {
		kind = path.prev
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
	return cosmosLabels[verb][resource]
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
	switch n := shapeOf(r.URL.Path).n; {
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
	path := shapeOf(r.URL.Path)
	collection := "other"
	switch path.first {
	case "secrets", "keys", "certificates":
		collection = path.first
	}
	op := strings.ToLower(r.Method) + "_" + collection
	if path.n > 1 && path.last == "versions" {
		op += "_versions"
	}
	return op
}
