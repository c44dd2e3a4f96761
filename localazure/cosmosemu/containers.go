package cosmosemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// createCollection creates a container from the client's properties.
func (s *Server) createCollection(d *database, props map[string]any, ifMissing bool) (*collection, bool, *apiError) {
	id, _ := props["id"].(string)
	if e := validID(id); e != nil {
		return nil, false, e
	}
	pkDef, _ := props["partitionKey"].(map[string]any)
	rawPaths, _ := pkDef["paths"].([]any)
	if len(rawPaths) == 0 {
		return nil, false, errBadRequest("The partition key definition is missing: a container needs partitionKey.paths, e.g. [\"/customerId\"].")
	}
	kind, _ := pkDef["kind"].(string)
	if kind == "" {
		kind = "Hash"
	}
	if kind != "Hash" && kind != "MultiHash" || kind == "Hash" && len(rawPaths) != 1 || len(rawPaths) > 3 {
		return nil, false, errBadRequest(fmt.Sprintf("The partition key definition (kind %q, %d paths) is invalid.", kind, len(rawPaths)))
	}
	paths := make([][]string, len(rawPaths))
	for i, p := range rawPaths {
		ps, _ := p.(string)
		if !strings.HasPrefix(ps, "/") || len(ps) < 2 {
			return nil, false, errBadRequest(fmt.Sprintf("The partition key path %q is invalid: it must start with '/'.", ps))
		}
		for _, seg := range strings.Split(ps[1:], "/") {
			paths[i] = append(paths[i], strings.Trim(seg, "\"'"))
		}
	}
	if _, ok := pkDef["version"]; !ok {
		pkDef["version"] = float64(2)
	}
	pkDef["kind"] = kind

	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.colls[id]; ok {
		if ifMissing {
			return c, false, nil
		}
		return nil, false, errConflict()
	}
	d.nextColl++
	c := &collection{db: d, id: id, num: d.nextColl, rid: collRID(d.num, d.nextColl), ts: s.now().Unix(),
		etag: s.nextEtag(s.globalLSN()), paths: paths, pkKind: kind, parts: map[string]*partition{}}
	if _, ok := props["indexingPolicy"]; !ok {
		props["indexingPolicy"] = map[string]any{"indexingMode": "consistent", "automatic": true,
			"includedPaths": []any{map[string]any{"path": "/*"}},
			"excludedPaths": []any{map[string]any{"path": "/\"_etag\"/?"}}}
	}
	if _, ok := props["conflictResolutionPolicy"]; !ok {
		props["conflictResolutionPolicy"] = map[string]any{"mode": "LastWriterWins", "conflictResolutionPath": "/_ts", "conflictResolutionProcedure": ""}
	}
	if _, ok := props["geospatialConfig"]; !ok {
		props["geospatialConfig"] = map[string]any{"type": "Geography"}
	}
	props["_rid"] = c.rid
	props["_self"] = "dbs/" + d.rid + "/colls/" + c.rid + "/"
	props["_etag"] = c.etag
	props["_ts"] = c.ts
	for k, v := range map[string]string{"_docs": "docs/", "_sprocs": "sprocs/", "_triggers": "triggers/", "_udfs": "udfs/", "_conflicts": "conflicts/"} {
		props[k] = v
	}
	c.props = props
	c.defaultTTL.Store(ttlSetting(props))
	c.uniqueKeys = uniqueKeys(props)
	d.colls[id] = c
	d.order = append(d.order, id)
	return c, true, nil
}

// json renders the container resource: the client's properties plus system ones.
func (c *collection) json() []byte {
	b, _ := json.Marshal(c.props)
	return b
}

// collection finds a container, or the 404 the service gives for a missing one.
func (s *Server) collection(dbID, id string) (*collection, *apiError) {
	d := s.database(dbID)
	if d == nil {
		return nil, errOwnerNotFound()
	}
	if c := d.collection(id); c != nil {
		return c, nil
	}
	return nil, errOwnerNotFound()
}

// collection finds a container by name or resource id.
func (d *database) collection(id string) *collection {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if c := d.colls[id]; c != nil {
		return c
	}
	for _, c := range d.colls {
		if c.rid == id {
			return c
		}
	}
	return nil
}

// collectionDocs renders a database's containers in creation order.
func (s *Server) collectionDocs(d *database) [][]byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([][]byte, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.colls[id].json())
	}
	return out
}

// handleCollections serves /dbs/{db}/colls: list, query, create.
func (s *Server) handleCollections(q *request, dbID string) *apiError {
	d := s.database(dbID)
	if d == nil {
		return errOwnerNotFound()
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		return s.writeFeed(q, "DocumentCollections", d.rid, s.collectionDocs(d))
	case http.MethodPost:
		body, e := readBody(q.r)
		if e != nil {
			return e
		}
		if isQueryRequest(q.r) {
			return s.queryResources(q, body, "DocumentCollections", d.rid, s.collectionDocs(d))
		}
		var props map[string]any
		if err := json.Unmarshal(body, &props); err != nil {
			return errBadRequest("The request payload is invalid: " + err.Error())
		}
		c, _, e := s.createCollection(d, props, false)
		if e != nil {
			return e
		}
		content, _ := offerContent(q.r.Header, false)
		s.addOffer("dbs/"+d.rid+"/colls/"+c.rid+"/", c.rid, content)
		if e := s.commitMetadata(); e != nil {
			return e
		}
		q.w.Header()[hETag] = []string{c.etag}
		s.writeJSON(q, http.StatusCreated, "1", c.json())
		return nil
	}
	return errMethod(q.r.Method)
}

// handleCollection serves /dbs/{db}/colls/{coll}: read, replace, delete.
func (s *Server) handleCollection(q *request, dbID, id string) *apiError {
	d := s.database(dbID)
	if d == nil {
		return errOwnerNotFound()
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		c, e := s.collection(dbID, id)
		if e != nil {
			return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
		}
		q.w.Header()[hETag] = []string{c.etag}
		s.writeJSON(q, http.StatusOK, "1", c.json())
		return nil
	case http.MethodPut:
		// Replace: only indexing policy, TTL and similar settings may change; the
		// partition key definition is immutable, as in Cosmos.
		c, e := s.collection(dbID, id)
		if e != nil {
			return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
		}
		body, e := readBody(q.r)
		if e != nil {
			return e
		}
		var props map[string]any
		if err := json.Unmarshal(body, &props); err != nil {
			return errBadRequest("The request payload is invalid: " + err.Error())
		}
		// Items that have expired under the old setting are gone for good, as the
		// service's background purge would have removed them.
		s.purgeExpired(c)
		d.mu.Lock()
		for k, v := range props {
			if k == "id" || k == "partitionKey" || k == "uniqueKeyPolicy" || strings.HasPrefix(k, "_") {
				continue
			}
			c.props[k] = v
		}
		c.props["_ts"] = s.now().Unix()
		if _, ok := props["defaultTtl"]; !ok {
			delete(c.props, "defaultTtl") // a replace without it turns TTL off
		}
		c.defaultTTL.Store(ttlSetting(c.props))
		out := c.json()
		d.mu.Unlock()
		if e := s.commitMetadata(); e != nil {
			return e
		}
		q.w.Header()[hETag] = []string{c.etag}
		s.writeJSON(q, http.StatusOK, "1", out)
		return nil
	case http.MethodDelete:
		d.mu.Lock()
		gone, ok := d.colls[id]
		if ok {
			delete(d.colls, id)
			for i, x := range d.order {
				if x == id {
					d.order = append(d.order[:i:i], d.order[i+1:]...)
					break
				}
			}
		}
		d.mu.Unlock()
		if !ok {
			return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
		}
		s.dropOffer(gone.rid)
		if e := s.commitMetadata(); e != nil {
			return e
		}
		s.writeJSON(q, http.StatusNoContent, "1", nil)
		return nil
	}
	return errMethod(q.r.Method)
}
