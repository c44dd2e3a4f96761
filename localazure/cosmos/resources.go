package cosmos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// queryEngineConfiguration is what the account advertises to SDKs that plan queries
// locally (.NET on Windows); it matches the limits and features this stand-in has.
const queryEngineConfiguration = `{"maxSqlQueryInputLength":262144,"maxJoinsPerSqlQuery":5,"maxLogicalAndPerSqlQuery":500,` +
	`"maxLogicalOrPerSqlQuery":500,"maxUdfRefPerSqlQuery":10,"maxInExpressionItemsCount":16000,` +
	`"queryMaxInMemorySortDocumentCount":500,"maxQueryRequestTimeoutFraction":0.9,"sqlAllowNonFiniteNumbers":false,` +
	`"sqlAllowAggregateFunctions":true,"sqlAllowSubQuery":false,"sqlAllowScalarSubQuery":false,"allowNewKeywords":true,` +
	`"sqlAllowLike":true,"sqlAllowGroupByClause":true,"maxSpatialQueryCells":12,"spatialMaxGeometryPointCount":256,` +
	`"sqlDisableQueryILOptimization":false,"sqlDisableFilterPlanOptimization":false}`

// regionName is the single region the account reports, as the official emulator does.
const regionName = "South Central US"

// handleAccount serves GET / : the database account, whose locations point back at
// this server (every SDK routes later requests to them).
func (s *Server) handleAccount(q *request) *apiError {
	if q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		return errMethod(q.r.Method)
	}
	base := s.baseURL(q.r)
	loc := []map[string]any{{"name": regionName, "databaseAccountEndpoint": base}}
	doc := map[string]any{
		"_self": "", "id": s.opts.AccountName, "_rid": s.opts.AccountName,
		"media": "//media/", "addresses": "//addresses/", "_dbs": "//dbs/",
		"writableLocations":              loc,
		"readableLocations":              loc,
		"enableMultipleWriteLocations":   false,
		"continuousBackupEnabled":        false,
		"enableNRegionSynchronousCommit": false,
		"userReplicationPolicy":          map[string]any{"asyncReplication": false, "minReplicaSetSize": 1, "maxReplicasetSize": 4},
		"userConsistencyPolicy":          map[string]any{"defaultConsistencyLevel": "Session"},
		"systemReplicationPolicy":        map[string]any{"minReplicaSetSize": 1, "maxReplicasetSize": 4},
		"readPolicy":                     map[string]any{"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
		"queryEngineConfiguration":       queryEngineConfiguration,
	}
	body, _ := json.Marshal(doc)
	h := q.w.Header()
	h["X-Ms-Max-Media-Storage-Usage-Mb"] = []string{"10240"}
	h["X-Ms-Media-Storage-Usage-Mb"] = []string{"0"}
	h["X-Ms-Databaseaccount-Consumed-Mb"] = []string{"0"}
	h["X-Ms-Databaseaccount-Reserved-Mb"] = []string{"0"}
	h["X-Ms-Databaseaccount-Provisioned-Mb"] = []string{"0"}
	s.writeJSON(q, http.StatusOK, "0", body)
	return nil
}

// readBody reads a request body up to the service's 2 MB request limit.
func readBody(r *http.Request) ([]byte, *apiError) {
	const limit = 2 << 20
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errBadRequest("The request body could not be read: " + err.Error())
	}
	if len(b) > limit {
		return nil, &apiError{status: 413, message: "Request size is too large. Learn more: https://aka.ms/cosmosdb-tsg-request-too-large"}
	}
	return b, nil
}

func isQueryRequest(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("x-ms-documentdb-isquery"), "true") ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/query+json")
}

// validID applies Cosmos's rules for user-supplied ids.
func validID(id string) *apiError {
	if id == "" || len(id) > 255 || strings.ContainsAny(id, "/\\?#") {
		return errBadRequest(fmt.Sprintf("The input name '%s' is invalid. Ensure to provide a unique non-empty string less than '255' characters. "+
			"Make sure the name does not contain the characters '/', '\\\\', '?', '#'.", id))
	}
	return nil
}

// nextEtag renders an etag in the service's GUID-like shape, quoted.
func (s *Server) nextEtag(lsn uint64) string {
	var b [40]byte
	out := append(b[:0], '"')
	out = appendHex(out, uint64(s.epoch), 8)
	out = append(out, "-0000-0000-0000-"...)
	out = appendHex(out, lsn, 12)
	out = append(out, '"')
	return string(out)
}

func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// globalLSN numbers database and container changes for their etags.
func (s *Server) globalLSN() uint64 { return s.actSeq.Add(1) }

// --- databases ---

func (d *database) json() []byte {
	b, _ := json.Marshal(map[string]any{"id": d.id, "_rid": d.rid, "_self": "dbs/" + d.rid + "/",
		"_etag": d.etag, "_colls": "colls/", "_users": "users/", "_ts": d.ts})
	return b
}

// createDatabase creates a database; with ifMissing an existing one is returned.
func (s *Server) createDatabase(id string, ifMissing bool) (*database, bool, *apiError) {
	if e := validID(id); e != nil {
		return nil, false, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.dbs[id]; ok {
		if ifMissing {
			return d, false, nil
		}
		return nil, false, errConflict()
	}
	s.nextDB++
	d := &database{id: id, num: s.nextDB, rid: dbRID(s.nextDB), ts: s.now().Unix(),
		etag: s.nextEtag(s.globalLSN()), colls: map[string]*collection{}}
	s.dbs[id] = d
	s.dbOrder = append(s.dbOrder, id)
	s.changed()
	return d, true, nil
}

// database finds a database by name or, as .NET and Java address some requests
// (partition key ranges, through the container's self link), by resource id.
func (s *Server) database(id string) *database {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d := s.dbs[id]; d != nil {
		return d
	}
	for _, d := range s.dbs {
		if d.rid == id {
			return d
		}
	}
	return nil
}

func (s *Server) handleDatabases(q *request) *apiError {
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		return s.writeFeed(q, "Databases", "", s.databaseDocs())
	case http.MethodPost:
		body, e := readBody(q.r)
		if e != nil {
			return e
		}
		if isQueryRequest(q.r) {
			return s.queryResources(q, body, "Databases", "", s.databaseDocs())
		}
		var in struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return errBadRequest("The request payload is invalid: " + err.Error())
		}
		d, _, e := s.createDatabase(in.ID, false)
		if e != nil {
			return e
		}
		if content, ok := offerContent(q.r.Header, true); ok {
			s.addOffer("dbs/"+d.rid+"/", d.rid, content)
		}
		q.w.Header()[hETag] = []string{d.etag}
		s.writeJSON(q, http.StatusCreated, "1", d.json())
		return nil
	}
	return errMethod(q.r.Method)
}

func (s *Server) databaseDocs() [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, 0, len(s.dbOrder))
	for _, id := range s.dbOrder {
		out = append(out, s.dbs[id].json())
	}
	return out
}

func (s *Server) handleDatabase(q *request, id string) *apiError {
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		d := s.database(id)
		if d == nil {
			return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
		}
		q.w.Header()[hETag] = []string{d.etag}
		s.writeJSON(q, http.StatusOK, "1", d.json())
		return nil
	case http.MethodDelete:
		s.mu.Lock()
		gone, ok := s.dbs[id]
		if ok {
			delete(s.dbs, id)
			for i, x := range s.dbOrder {
				if x == id {
					s.dbOrder = append(s.dbOrder[:i:i], s.dbOrder[i+1:]...)
					break
				}
			}
		}
		s.mu.Unlock()
		if !ok {
			return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
		}
		s.dropOffer(gone.rid)
		gone.mu.RLock()
		for _, c := range gone.colls {
			s.dropOffer(c.rid)
		}
		gone.mu.RUnlock()
		s.changed()
		s.writeJSON(q, http.StatusNoContent, "1", nil)
		return nil
	}
	return errMethod(q.r.Method)
}

// --- containers ---

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
	s.changed()
	return c, true, nil
}

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

func (s *Server) collectionDocs(d *database) [][]byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([][]byte, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.colls[id].json())
	}
	return out
}

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
		q.w.Header()[hETag] = []string{c.etag}
		s.writeJSON(q, http.StatusCreated, "1", c.json())
		return nil
	}
	return errMethod(q.r.Method)
}

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
		s.changed()
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
		s.changed()
		s.writeJSON(q, http.StatusNoContent, "1", nil)
		return nil
	}
	return errMethod(q.r.Method)
}

// handlePKRanges serves the partition key ranges: one range "0" over the whole hash
// space. .NET and Java read them as a change feed (A-IM: Incremental feed) and loop
// until 304 Not Modified, so the response carries an etag and a matching
// If-None-Match gets 304.
func (s *Server) handlePKRanges(q *request, dbID, collID string) *apiError {
	if q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		return errMethod(q.r.Method)
	}
	c, e := s.collection(dbID, collID)
	if e != nil {
		return e
	}
	etag := "\"" + c.rid + "-1\""
	h := q.w.Header()
	h[hETag] = []string{etag}
	h[hSession] = []string{sessionToken(c)}
	if inm := q.r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		h[hItemCount] = []string{"0"}
		s.writeJSON(q, http.StatusNotModified, "1", nil)
		return nil
	}
	if len(q.segs) == 6 && q.segs[5] != "0" {
		return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
	}
	rng := map[string]any{
		"_rid": c.rid + "AgAAAAAAAA==", "id": "0", "_etag": "\"00000000-0000-0000-0000-000000000000\"",
		"minInclusive": "", "maxExclusive": "FF", "ridPrefix": 0,
		"_self":              "dbs/" + c.db.rid + "/colls/" + c.rid + "/pkranges/" + c.rid + "AgAAAAAAAA==/",
		"throughputFraction": 1, "status": "online", "parents": []string{}, "ownedArchivalPKRangeIds": []string{},
		"_ts": c.ts, "lsn": c.lsn.Load(),
	}
	if len(q.segs) == 6 {
		body, _ := json.Marshal(rng)
		s.writeJSON(q, http.StatusOK, "1", body)
		return nil
	}
	body, _ := json.Marshal(map[string]any{"_rid": c.rid, "PartitionKeyRanges": []any{rng}, "_count": 1})
	h[hItemCount] = []string{"1"}
	s.writeJSON(q, http.StatusOK, "1", body)
	return nil
}

// writeFeed writes a list of resources as {"_rid", "<Name>": [...], "_count"}.
func (s *Server) writeFeed(q *request, name, rid string, items [][]byte) *apiError {
	var b strings.Builder
	b.WriteString(`{"_rid":`)
	rb, _ := json.Marshal(rid)
	b.Write(rb)
	b.WriteString(`,"` + name + `":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString(`],"_count":` + strconv.Itoa(len(items)) + `}`)
	q.w.Header()[hItemCount] = []string{strconv.Itoa(len(items))}
	s.writeJSON(q, http.StatusOK, "1", []byte(b.String()))
	return nil
}
