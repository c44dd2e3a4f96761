package cosmosemu

import (
	"encoding/json"
	"net/http"
)

// json renders the database resource as the service returns it.
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

// handleDatabases serves /dbs: list, query, create.
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
		if e := s.commitMetadata(); e != nil {
			return e
		}
		q.w.Header()[hETag] = []string{d.etag}
		s.writeJSON(q, http.StatusCreated, "1", d.json())
		return nil
	}
	return errMethod(q.r.Method)
}

// databaseDocs renders the databases in creation order.
func (s *Server) databaseDocs() [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, 0, len(s.dbOrder))
	for _, id := range s.dbOrder {
		out = append(out, s.dbs[id].json())
	}
	return out
}

// handleDatabase serves /dbs/{db}: read, delete (with its containers).
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
		if e := s.commitMetadata(); e != nil {
			return e
		}
		s.writeJSON(q, http.StatusNoContent, "1", nil)
		return nil
	}
	return errMethod(q.r.Method)
}
