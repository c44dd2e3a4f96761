package cosmosemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// maxBatchOps is the service's limit on operations in a transactional batch.
const maxBatchOps = 100

type batchOp struct {
	OperationType string          `json:"operationType"`
	ID            string          `json:"id"`
	ResourceBody  json.RawMessage `json:"resourceBody"`
	IfMatch       string          `json:"ifMatch"`
	IfNoneMatch   string          `json:"ifNoneMatch"`
	PartitionKey  string          `json:"partitionKey"`
}

type batchResult struct {
	StatusCode    int             `json:"statusCode"`
	SubStatusCode int             `json:"subStatusCode,omitempty"`
	RequestCharge float64         `json:"requestCharge"`
	ETag          string          `json:"eTag,omitempty"`
	ResourceBody  json.RawMessage `json:"resourceBody,omitempty"`
}

// batch executes a transactional batch (x-ms-cosmos-is-batch-request) atomically
// within one logical partition: the operations run against a staged view and are
// committed only if all succeed. On failure the reply is 207 Multi-Status with the
// failing operation's status and 424 Failed Dependency for every other one.
func (s *Server) batch(q *request, c *collection, body []byte) *apiError {
	key, e := requirePK(q.r)
	if e != nil {
		return e
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] != '[' {
		// The .NET SDK encodes batches in the binary HybridRow format; Go, Java,
		// Python and JavaScript send the JSON array this server reads.
		return errBadRequest("The batch request body is not a JSON array. The .NET SDK's binary (HybridRow) batch format is not supported by the local Cosmos DB stand-in; send the operations individually from .NET.")
	}
	var ops []batchOp
	if err := json.Unmarshal(body, &ops); err != nil {
		return errBadRequest("The batch request payload is invalid: " + err.Error())
	}
	if len(ops) == 0 {
		return errBadRequest("The batch request has no operations.")
	}
	if len(ops) > maxBatchOps {
		return errBadRequest(fmt.Sprintf("Batch request has more operations than what is supported (%d > %d).", len(ops), maxBatchOps))
	}
	for _, op := range ops {
		if t := strings.ToLower(op.OperationType); t != "read" {
			if e := s.requireWrite(q, c, t); e != nil {
				return e
			}
		}
		if op.PartitionKey == "" {
			continue
		}
		k, _, ok := canonicalPKHeader(op.PartitionKey)
		if !ok || k != key {
			return errBadRequest("All operations in a transactional batch must target the partition key given in the request header.")
		}
	}
	minimal := strings.Contains(q.r.Header.Get("Prefer"), "return=minimal")

	p := c.partitionFor(key, true)
	p.mu.Lock()
	staged := map[string]*document{}
	deleted := map[string]bool{}
	lookup := func(id string) *document {
		if deleted[id] {
			return nil
		}
		if d, ok := staged[id]; ok {
			return d
		}
		return s.live(c, p.docs[id])
	}
	results := make([]batchResult, len(ops))
	failed := -1
	for i, op := range ops {
		res, d, delID, e := s.batchOne(c, key, op, lookup)
		if e == nil && d != nil && !strings.EqualFold(op.OperationType, "Read") {
			e = s.checkUnique(c, d.uniq, d.id, func(yield func(*document) bool) {
				for _, sd := range staged {
					if !yield(sd) {
						return
					}
				}
				for id, pd := range p.docs {
					if _, over := staged[id]; over || deleted[id] || s.live(c, pd) == nil {
						continue
					}
					if !yield(pd) {
						return
					}
				}
			})
		}
		if e != nil {
			failed = i
			results[i] = batchResult{StatusCode: e.status, SubStatusCode: e.substatus}
			break
		}
		if d != nil {
			staged[d.id] = d
			delete(deleted, d.id)
			if !minimal || strings.EqualFold(op.OperationType, "Read") {
				res.ResourceBody = d.raw
			}
		}
		if delID != "" {
			deleted[delID] = true
			delete(staged, delID)
		}
		results[i] = res
	}
	var ticket uint64
	if failed < 0 && len(staged)+len(deleted) > 0 {
		ops := make([]journalOp, 0, len(staged)+len(deleted))
		for id := range deleted {
			p.del(c, id)
			ops = append(ops, delOp(key, id))
		}
		for _, d := range staged {
			p.put(c, d)
			ops = append(ops, putOp(d))
		}
		ticket = s.journalOps(c, ops...) // one record: the batch is replayed whole or not at all
	}
	p.mu.Unlock()
	if e := s.durable(ticket); e != nil {
		return e
	}

	status := http.StatusOK
	if failed >= 0 {
		status = http.StatusMultiStatus
		for i := range results {
			if i != failed {
				results[i] = batchResult{StatusCode: http.StatusFailedDependency}
			}
		}
	}
	out, err := json.Marshal(results)
	if err != nil {
		return &apiError{status: 500, message: "encoding the batch response failed: " + err.Error()}
	}
	s.itemHeaders(q, c, nil)
	s.writeJSON(q, status, writeCharge(len(body)), out)
	return nil
}

// batchOne runs one operation against the staged view. It returns the new version
// of a written item, or the id of a deleted one.
func (s *Server) batchOne(c *collection, key string, op batchOp, lookup func(string) *document) (batchResult, *document, string, *apiError) {
	switch strings.ToLower(op.OperationType) {
	case "create", "upsert", "replace":
		m, id, bodyKey, distinct, e := decodeItem(c, op.ResourceBody, key)
		if e != nil {
			return batchResult{}, nil, "", e
		}
		prev := lookup(id)
		t := strings.ToLower(op.OperationType)
		switch {
		case t == "create" && prev != nil:
			return batchResult{}, nil, "", errConflict()
		case t == "replace" && prev == nil:
			return batchResult{}, nil, "", errDocNotFound()
		case t == "replace" && op.ID != "" && op.ID != id:
			return batchResult{}, nil, "", errBadRequest("The id in the operation does not match the id in the resource body.")
		}
		if prev != nil && op.IfMatch != "" && op.IfMatch != "*" && op.IfMatch != prev.etag {
			return batchResult{}, nil, "", errPrecondition()
		}
		d := s.build(c, m, op.ResourceBody, id, bodyKey, prev, distinct)
		status := http.StatusCreated
		if t == "replace" || prev != nil {
			status = http.StatusOK
		}
		return batchResult{StatusCode: status, RequestCharge: 5.71, ETag: d.etag}, d, "", nil
	case "read":
		d := lookup(op.ID)
		if d == nil {
			return batchResult{}, nil, "", errDocNotFound()
		}
		if op.IfNoneMatch != "" && op.IfNoneMatch == d.etag {
			return batchResult{StatusCode: http.StatusNotModified, RequestCharge: 1, ETag: d.etag}, nil, "", nil
		}
		return batchResult{StatusCode: http.StatusOK, RequestCharge: 1, ETag: d.etag}, d, "", nil
	case "delete":
		d := lookup(op.ID)
		if d == nil {
			return batchResult{}, nil, "", errDocNotFound()
		}
		if op.IfMatch != "" && op.IfMatch != "*" && op.IfMatch != d.etag {
			return batchResult{}, nil, "", errPrecondition()
		}
		return batchResult{StatusCode: http.StatusNoContent, RequestCharge: 5.71}, nil, op.ID, nil
	case "patch":
		d := lookup(op.ID)
		if d == nil {
			return batchResult{}, nil, "", errDocNotFound()
		}
		if op.IfMatch != "" && op.IfMatch != "*" && op.IfMatch != d.etag {
			return batchResult{}, nil, "", errPrecondition()
		}
		var pb patchBody
		if err := json.Unmarshal(op.ResourceBody, &pb); err != nil {
			return batchResult{}, nil, "", errBadRequest("The patch payload is invalid: " + err.Error())
		}
		nd, e := s.applyPatch(c, d, pb)
		if e != nil {
			return batchResult{}, nil, "", e
		}
		return batchResult{StatusCode: http.StatusOK, RequestCharge: 5.71, ETag: nd.etag}, nd, "", nil
	}
	return batchResult{}, nil, "", errBadRequest(fmt.Sprintf("The batch operation type '%s' is not supported.", op.OperationType))
}
