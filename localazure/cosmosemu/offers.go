package cosmosemu

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// offer is the throughput of a container (always) or of a database (when it was
// created with shared throughput). Nothing is throttled: the numbers are stored and
// reported so that ReadThroughput/ReplaceThroughput and portals' equivalents work.
type offer struct {
	id       string
	resource string // "dbs/<dbrid>/" or "dbs/<dbrid>/colls/<collrid>/"
	target   string // the rid the offer belongs to (offerResourceId)
	mu       sync.Mutex
	content  map[string]any
	ts       int64
	etag     string
}

// offerID derives a short, stable id from the target's rid, as offers have their
// own rid-based ids in Cosmos.
func offerID(targetRID string) string {
	h := fnv.New32a()
	h.Write([]byte(targetRID))
	return encodeRID([]byte{byte(h.Sum32()), byte(h.Sum32() >> 8), byte(h.Sum32() >> 16)})
}

// offerContent builds the content from the creation headers: manual throughput
// (x-ms-offer-throughput), autoscale (x-ms-cosmos-offer-autopilot-settings), or the
// default of 400 RU/s; ok is false when the database had no throughput of its own.
func offerContent(h http.Header, isDatabase bool) (map[string]any, bool) {
	if v := h.Get("x-ms-offer-throughput"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return map[string]any{"offerThroughput": n, "offerIsRUPerMinuteThroughputEnabled": false}, true
		}
	}
	if v := h.Get("x-ms-cosmos-offer-autopilot-settings"); v != "" {
		var auto map[string]any
		if json.Unmarshal([]byte(v), &auto) == nil {
			return map[string]any{"offerThroughput": 0, "offerAutopilotSettings": auto}, true
		}
	}
	if isDatabase {
		return nil, false
	}
	return map[string]any{"offerThroughput": 400, "offerIsRUPerMinuteThroughputEnabled": false}, true
}

func (s *Server) addOffer(resource, target string, content map[string]any) {
	o := &offer{id: offerID(target), resource: resource, target: target, content: content,
		ts: s.now().Unix(), etag: s.nextEtag(s.globalLSN())}
	s.offersMu.Lock()
	if s.offers == nil {
		s.offers = map[string]*offer{}
	}
	s.offers[o.id] = o
	s.offersMu.Unlock()
}

func (s *Server) dropOffer(target string) {
	s.offersMu.Lock()
	delete(s.offers, offerID(target))
	s.offersMu.Unlock()
}

func (o *offer) json() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"id": o.id, "_rid": o.id, "_self": "offers/" + o.id + "/", "_etag": o.etag, "_ts": o.ts,
		"offerVersion": "V2", "offerType": "Invalid", "resource": o.resource, "offerResourceId": o.target,
		"content": o.content,
	})
	return b
}

func (s *Server) offerDocs() [][]byte {
	s.offersMu.Lock()
	list := make([]*offer, 0, len(s.offers))
	for _, o := range s.offers {
		list = append(list, o)
	}
	s.offersMu.Unlock()
	out := make([][]byte, 0, len(list))
	for _, o := range list {
		out = append(out, o.json())
	}
	return out
}

// handleOffers serves /offers (list, query) and /offers/{id} (read, replace).
func (s *Server) handleOffers(q *request) *apiError {
	if len(q.segs) == 1 {
		switch q.r.Method {
		case http.MethodGet, http.MethodHead:
			return s.writeFeed(q, "Offers", "", s.offerDocs())
		case http.MethodPost:
			body, e := readBody(q.r)
			if e != nil {
				return e
			}
			if !isQueryRequest(q.r) {
				return errMethod("POST")
			}
			return s.queryResources(q, body, "Offers", "", s.offerDocs())
		}
		return errMethod(q.r.Method)
	}
	if len(q.segs) != 2 {
		return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
	}
	s.offersMu.Lock()
	o := s.offers[q.segs[1]]
	s.offersMu.Unlock()
	if o == nil {
		return errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		q.w.Header()[hETag] = []string{o.etag}
		s.writeJSON(q, http.StatusOK, "1", o.json())
		return nil
	case http.MethodPut:
		body, e := readBody(q.r)
		if e != nil {
			return e
		}
		var in struct {
			Content map[string]any `json:"content"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Content == nil {
			return errBadRequest("The offer payload is invalid: it needs a content object.")
		}
		if n, ok := in.Content["offerThroughput"].(float64); ok && n != 0 && (n < 400 || int(n)%100 != 0) {
			return errBadRequest(fmt.Sprintf("The offer throughput %v is invalid: it must be at least 400 and a multiple of 100.", n))
		}
		o.mu.Lock()
		o.content = in.Content
		o.ts = s.now().Unix()
		o.etag = s.nextEtag(s.globalLSN())
		o.mu.Unlock()
		if e := s.commitMetadata(); e != nil {
			return e
		}
		q.w.Header()[hETag] = []string{o.etag}
		s.writeJSON(q, http.StatusOK, "1", o.json())
		return nil
	}
	return errMethod(q.r.Method)
}

// offersLink is the signed resource link of /offers/{id}: offers are addressed by
// resource id, which SDKs sign lower-cased.
func offersLink(segs []string) (string, bool) {
	if len(segs) == 2 && segs[0] == "offers" {
		return strings.ToLower(segs[1]), true
	}
	return "", false
}
