package cosmosemu

import (
	"encoding/json"
	"net/http"
)

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
