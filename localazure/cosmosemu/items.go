package cosmosemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// systemProps are the properties Cosmos owns; a client's values for them are ignored.
var systemProps = []string{"_rid", "_self", "_etag", "_ts", "_attachments"}

// pkFromHeader reads x-ms-documentdb-partitionkey. present is false when absent.
func pkFromHeader(r *http.Request) (key string, present bool, e *apiError) {
	h := r.Header.Get("x-ms-documentdb-partitionkey")
	if h == "" {
		return "", false, nil
	}
	k, _, ok := canonicalPKHeader(h)
	if !ok {
		return "", true, errBadRequest("Partition key provided either doesn't correspond to definition in the collection or doesn't match partition key field values specified in the document.")
	}
	return k, true, nil
}

// requirePK is for point operations, which must name their partition.
func requirePK(r *http.Request) (string, *apiError) {
	k, present, e := pkFromHeader(r)
	if e != nil {
		return "", e
	}
	if !present {
		return "", errBadRequest("PartitionKey value must be supplied for this operation. Learn more: https://aka.ms/CosmosDB/sql/errors/missing-pk-value")
	}
	return k, nil
}

var errPKMismatch = &apiError{status: 400, substatus: 1001,
	message: "PartitionKey extracted from document doesn't match the one specified in the header. Learn more: https://aka.ms/CosmosDB/sql/errors/wrong-pk-value"}

// decodeItem decodes an item body and checks its id and partition key against the
// header (headerKey "" when the header was absent: the body's key is used).
func decodeItem(c *collection, body []byte, headerKey string) (map[string]any, string, string, *apiError) {
	if len(c.uniqueKeys) == 0 {
		// Fast path: the map is only needed for unique keys and system properties;
		// queries decode the stored item when they first need it.
		if id, key, ok := quickItem(c, body); ok {
			if e := validID(id); e != nil {
				return nil, "", "", e
			}
			if headerKey != "" && key != headerKey {
				return nil, "", "", errPKMismatch
			}
			return nil, id, key, nil
		}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, "", "", errBadRequest("The input content is invalid because it is not a valid JSON object.")
	}
	rawID, ok := m["id"]
	if !ok {
		return nil, "", "", errBadRequest("The input content is invalid because the required properties - 'id; ' - are missing. Learn more: https://aka.ms/CosmosDB/sql/errors/missing-id")
	}
	id, ok := rawID.(string)
	if !ok {
		return nil, "", "", errBadRequest("The input content is invalid because the 'id' property must be a string.")
	}
	if e := validID(id); e != nil {
		return nil, "", "", e
	}
	if t, ok := m["ttl"]; ok && t != nil {
		f, isNum := t.(float64)
		if !isNum || f != float64(int64(f)) || f == 0 || f < -1 {
			return nil, "", "", errBadRequest("The input ttl '" + fmt.Sprint(t) + "' is invalid. Ensure to provide a nonzero positive integer less than or equal to '2147483647', or '-1' which means never expire.")
		}
	}
	key := pkKey(c.pkValues(m))
	if headerKey != "" && key != headerKey {
		return nil, "", "", errPKMismatch
	}
	return m, id, key, nil
}

// build makes the stored form of an item. prev, when set, is the version being
// replaced: the resource id and creation order carry over, as in Cosmos.
func (s *Server) build(c *collection, m map[string]any, body []byte, id, key string, prev *document) *document {
	d := &document{id: id, pk: key, ts: s.now().Unix()}
	if t, ok := m["ttl"].(float64); ok {
		d.ttl = int64(t)
	}
	d.lsn = c.lsn.Add(1)
	d.etag = s.nextEtag(s.globalLSN())
	if prev != nil {
		d.seq, d.rid = prev.seq, prev.rid
	} else {
		d.seq = c.nextDoc.Add(1)
		d.rid = docRID(c.db.num, c.num, d.seq)
	}
	clean := true
	for _, k := range systemProps {
		if _, ok := m[k]; ok {
			delete(m, k)
			clean = false
		}
	}
	var b []byte
	if clean {
		// Splice the system properties in before the closing brace: the client's
		// bytes (and property order) are kept and nothing is re-encoded.
		t := bytes.TrimRight(body, " \t\r\n")
		t = t[:len(t)-1]
		b = make([]byte, 0, len(t)+200)
		b = append(b, t...)
	} else {
		enc, _ := json.Marshal(m)
		b = enc[:len(enc)-1]
	}
	self := "dbs/" + c.db.rid + "/colls/" + c.rid + "/docs/" + d.rid + "/"
	b = append(b, `,"_rid":"`...)
	b = append(b, d.rid...)
	b = append(b, `","_self":"`...)
	b = append(b, self...)
	b = append(b, `","_etag":"\`...)
	b = append(b, d.etag[:len(d.etag)-1]...)
	b = append(b, `\"","_attachments":"attachments/","_ts":`...)
	b = strconv.AppendInt(b, d.ts, 10)
	b = append(b, '}')
	d.raw = b
	if m != nil {
		m["_rid"], m["_self"], m["_etag"], m["_attachments"], m["_ts"] = d.rid, self, d.etag, "attachments/", float64(d.ts)
		d.valp.Store(&m)
	}
	return d
}

// itemHeaders sets the headers of a point-operation response.
func (s *Server) itemHeaders(q *request, c *collection, d *document) {
	h := q.w.Header()
	if d != nil {
		h[hETag] = []string{d.etag}
	}
	h[hSession] = []string{sessionToken(c)}
	h[hAltPath] = []string{"dbs/" + c.db.id + "/colls/" + c.id}
}

// writeItem answers a successful write: the item, or an empty body when the client
// asked for "Prefer: return=minimal" (the Go SDK's default).
func (s *Server) writeItem(q *request, c *collection, status int, d *document, charge string) {
	s.itemHeaders(q, c, d)
	if strings.Contains(q.r.Header.Get("Prefer"), "return=minimal") {
		s.writeJSON(q, status, charge, nil)
		return
	}
	s.writeJSON(q, status, charge, d.raw)
}

// writeCharge approximates the RU charge of a write from its size (Cosmos charges
// about 5.7 RU for a 1 KB item); exactness is not the point, presence is.
func writeCharge(n int) string {
	kb := n/1024 + 1
	return strconv.FormatFloat(float64(kb)*5.71, 'f', 2, 64)
}

// handleDocs serves the item feed: POST creates, upserts, queries or runs a batch;
// GET reads the feed.
func (s *Server) handleDocs(q *request, dbID, collID string) *apiError {
	c, e := s.collection(dbID, collID)
	if e != nil {
		return e
	}
	// Data-plane responses carry a session token whatever their outcome.
	q.w.Header()[hSession] = []string{sessionToken(c)}
	h := q.r.Header
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		if a := h.Get("A-IM"); a != "" {
			return s.changeFeed(q, c, a)
		}
		return s.readFeed(q, c)
	case http.MethodPost:
	default:
		return errMethod(q.r.Method)
	}
	body, e := readBody(q.r)
	if e != nil {
		return e
	}
	switch {
	case strings.EqualFold(h.Get("x-ms-cosmos-is-query-plan-request"), "true"):
		return s.queryPlan(q, c, body)
	case isQueryRequest(q.r):
		return s.query(q, c, body)
	case strings.EqualFold(h.Get("x-ms-cosmos-is-batch-request"), "true"):
		return s.batch(q, c, body)
	}
	headerKey, _, e := pkFromHeader(q.r)
	if e != nil {
		return e
	}
	m, id, key, e := decodeItem(c, body, headerKey)
	if e != nil {
		return e
	}
	upsert := strings.EqualFold(h.Get("x-ms-documentdb-is-upsert"), "true")
	ifMatch := h.Get("If-Match")
	p := c.partitionFor(key, true)
	p.mu.Lock()
	prev := s.live(c, p.docs[id])
	if prev != nil && !upsert {
		p.mu.Unlock()
		return errConflict()
	}
	if prev != nil && ifMatch != "" && ifMatch != "*" && ifMatch != prev.etag {
		p.mu.Unlock()
		return errPrecondition()
	}
	if e := s.checkUnique(c, m, id, s.partitionView(c, p)); e != nil {
		p.mu.Unlock()
		return e
	}
	d := s.build(c, m, body, id, key, prev)
	p.docs[id] = d
	ticket := s.journalOps(c, putOp(d))
	p.mu.Unlock()
	if e := s.durable(ticket); e != nil {
		return e
	}
	status := http.StatusCreated
	if prev != nil {
		status = http.StatusOK
	}
	s.writeItem(q, c, status, d, writeCharge(len(d.raw)))
	return nil
}

// handleDoc serves one item: read, replace, delete, patch.
func (s *Server) handleDoc(q *request, dbID, collID, id string) *apiError {
	c, e := s.collection(dbID, collID)
	if e != nil {
		return e
	}
	// Data-plane responses carry a session token whatever their outcome.
	q.w.Header()[hSession] = []string{sessionToken(c)}
	key, e := requirePK(q.r)
	if e != nil {
		return e
	}
	id = s.docIDByRID(c, key, id)
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		p := c.partitionFor(key, false)
		var d *document
		if p != nil {
			p.mu.RLock()
			d = s.live(c, p.docs[id])
			p.mu.RUnlock()
		}
		if d == nil {
			s.itemHeaders(q, c, nil)
			return errDocNotFound()
		}
		s.itemHeaders(q, c, d)
		if inm := q.r.Header.Get("If-None-Match"); inm != "" && (inm == d.etag || inm == "*") {
			s.writeJSON(q, http.StatusNotModified, "1", nil)
			return nil
		}
		s.writeJSON(q, http.StatusOK, "1", d.raw)
		return nil
	case http.MethodPut:
		body, e := readBody(q.r)
		if e != nil {
			return e
		}
		m, bodyID, bodyKey, e := decodeItem(c, body, key)
		if e != nil {
			return e
		}
		if bodyID != id {
			return errBadRequest("The id in the request body ('" + bodyID + "') does not match the id in the request URI ('" + id + "').")
		}
		p := c.partitionFor(bodyKey, true)
		prev, e := s.lockLiveItem(c, p, id, q.r.Header.Get("If-Match"))
		if e != nil {
			return e
		}
		if e := s.checkUnique(c, m, id, s.partitionView(c, p)); e != nil {
			p.mu.Unlock()
			return e
		}
		d := s.build(c, m, body, id, bodyKey, prev)
		p.docs[id] = d
		ticket := s.journalOps(c, putOp(d))
		p.mu.Unlock()
		if e := s.durable(ticket); e != nil {
			return e
		}
		s.writeItem(q, c, http.StatusOK, d, writeCharge(len(d.raw)))
		return nil
	case http.MethodDelete:
		p := c.partitionFor(key, false)
		if p == nil {
			return errDocNotFound()
		}
		prev, e := s.lockLiveItem(c, p, id, q.r.Header.Get("If-Match"))
		if e != nil {
			return e
		}
		delete(p.docs, id)
		c.lsn.Add(1)
		ticket := s.journalOps(c, delOp(key, id))
		p.mu.Unlock()
		if e := s.durable(ticket); e != nil {
			return e
		}
		s.itemHeaders(q, c, nil)
		s.writeJSON(q, http.StatusNoContent, writeCharge(len(prev.raw)), nil)
		return nil
	case http.MethodPatch:
		return s.patch(q, c, key, id)
	}
	return errMethod(q.r.Method)
}

// docIDByRID maps a document resource id (as in a rid-based self link) to the
// item's id; anything else is returned unchanged. Only ids shaped like a document
// rid (16 bytes in base64) that name no item are looked up.
func (s *Server) docIDByRID(c *collection, key, id string) string {
	if len(id) != 24 || !strings.HasSuffix(id, "==") {
		return id
	}
	p := c.partitionFor(key, false)
	if p == nil {
		return id
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if _, ok := p.docs[id]; ok {
		return id
	}
	for _, d := range p.docs {
		if d.rid == id {
			return d.id
		}
	}
	return id
}

// lockLiveItem locks partition p and returns its live item id, checking ifMatch
// ("" or "*" match any etag). On success p.mu is held and the caller unlocks it; on
// an error (404 missing or expired, 412 stale etag) it is already released.
func (s *Server) lockLiveItem(c *collection, p *partition, id, ifMatch string) (*document, *apiError) {
	p.mu.Lock()
	prev := s.live(c, p.docs[id])
	if prev == nil {
		p.mu.Unlock()
		return nil, errDocNotFound()
	}
	if ifMatch != "" && ifMatch != "*" && ifMatch != prev.etag {
		p.mu.Unlock()
		return nil, errPrecondition()
	}
	return prev, nil
}
