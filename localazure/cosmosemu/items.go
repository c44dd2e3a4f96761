package cosmosemu

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
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
//
// distinct reports whether the body's top-level keys are known to be distinct
// (document.distinct); it is only worked out on the fast path, where the body is
// stored as sent, and build finds it out otherwise.
func decodeItem(c *collection, body []byte, headerKey string) (m map[string]any, id, key string, distinct bool, e *apiError) {
	if len(c.uniqueKeys) == 0 {
		// Fast path: the map is only needed for unique keys and system properties;
		// queries decode the stored item when they first need it.
		if id, key, distinct, ok := quickItemKeys(c, body); ok {
			if e := validID(id); e != nil {
				return nil, "", "", false, e
			}
			if headerKey != "" && key != headerKey {
				return nil, "", "", false, errPKMismatch
			}
			return nil, id, key, distinct, nil
		}
	}
	m, id, key, e = decodeItemSlow(c, body, headerKey)
	return m, id, key, false, e
}

func decodeItemSlow(c *collection, body []byte, headerKey string) (map[string]any, string, string, *apiError) {
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
// replaced: the resource id and creation order carry over, as in Cosmos. m is the
// decoded body when the caller has it (nil on the fast path, where the body is
// spliced as sent).
//
// distinct, when true, says that the body's top-level keys are distinct; when
// false build finds out itself if m is set (the body was decoded anyway).
func (s *Server) build(c *collection, m map[string]any, body []byte, id, key string, prev *document, distinct bool) *document {
	d := &document{id: id, pk: key, ts: s.now().Unix(), distinct: distinct}
	if t, ok := m["ttl"].(float64); ok {
		d.ttl = itemTTL(t)
	}
	d.lsn = c.lsn.Add(1)
	d.etag = s.nextEtag(s.globalLSN())
	if prev != nil {
		d.seq = prev.seq
	} else {
		d.seq = c.nextDoc.Add(1)
	}
	rid := c.docRID(d)
	clean := true
	for _, k := range systemProps {
		if _, ok := m[k]; ok {
			delete(m, k)
			clean = false
		}
	}
	var t []byte
	if clean {
		// Splice the system properties in before the closing brace: the client's
		// bytes (and property order) are kept and nothing is re-encoded.
		t = bytes.TrimRight(body, " \t\r\n")
		t = t[:len(t)-1]
		if !distinct && m != nil {
			d.distinct = topKeysDistinct(body)
		}
	} else {
		enc, _ := json.Marshal(m)
		t = enc[:len(enc)-1]
		d.distinct = true // a map's keys
	}
	var tsBuf [20]byte
	ts := strconv.AppendInt(tsBuf[:0], d.ts, 10)
	const (
		pRID   = `,"_rid":"`
		pSelf  = `","_self":"`
		pETag  = `","_etag":"\`
		pAtt   = `\"","_attachments":"attachments/","_ts":`
		selfDB = "dbs/"
		selfC  = "/colls/"
		selfD  = "/docs/"
	)
	// The exact size, so that the stored item has no spare capacity.
	n := len(t) + len(pRID) + len(rid) + len(pSelf) + len(selfDB) + len(c.db.rid) + len(selfC) + len(c.rid) +
		len(selfD) + len(rid) + 1 + len(pETag) + len(d.etag) - 1 + len(pAtt) + len(ts) + 1
	b := make([]byte, 0, n)
	b = append(b, t...)
	b = append(b, pRID...)
	b = append(b, rid...)
	b = append(b, pSelf...)
	b = append(b, selfDB...)
	b = append(b, c.db.rid...)
	b = append(b, selfC...)
	b = append(b, c.rid...)
	b = append(b, selfD...)
	b = append(b, rid...)
	b = append(b, '/')
	b = append(b, pETag...)
	b = append(b, d.etag[:len(d.etag)-1]...)
	b = append(b, pAtt...)
	b = append(b, ts...)
	b = append(b, '}')
	d.raw = b
	if len(c.uniqueKeys) > 0 {
		if m == nil {
			m = decodeDoc(b)
		} else {
			m["_rid"], m["_self"], m["_etag"], m["_attachments"], m["_ts"] = rid, "dbs/"+c.db.rid+"/colls/"+c.rid+"/docs/"+rid+"/", d.etag, "attachments/", float64(d.ts)
		}
		d.uniq = uniqueTuples(c, m)
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
	m, id, key, distinct, e := decodeItem(c, body, headerKey)
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
	if e := s.checkUnique(c, uniqueTuples(c, m), id, s.partitionView(c, p)); e != nil {
		p.mu.Unlock()
		return e
	}
	d := s.build(c, m, body, id, key, prev, distinct)
	p.put(c, d)
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
		m, bodyID, bodyKey, distinct, e := decodeItem(c, body, key)
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
		if e := s.checkUnique(c, uniqueTuples(c, m), id, s.partitionView(c, p)); e != nil {
			p.mu.Unlock()
			return e
		}
		d := s.build(c, m, body, id, bodyKey, prev, distinct)
		p.put(c, d)
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
		p.del(c, id)
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
	// An item's rid is docRID(db, container, seq): find the item by its seq.
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(id, "-", "/"))
	if err != nil || len(b) != 16 {
		return id
	}
	seq := binary.LittleEndian.Uint64(b[8:])
	if docRID(c.db.num, c.num, seq) != id {
		return id
	}
	for _, d := range p.docs {
		if d.seq == seq {
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
