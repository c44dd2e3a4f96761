package cosmosemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/cosmosemu/query"
)

// Paging limits, as the service applies them.
const (
	defaultPageSize = 100
	maxPageBytes    = 4 << 20
)

type queryBody struct {
	Query      string `json:"query"`
	Parameters []struct {
		Name  string          `json:"name"`
		Value json.RawMessage `json:"value"`
	} `json:"parameters"`
}

// queryCache keeps compiled queries by text; a Query is immutable once parsed.
type queryCache struct {
	mu sync.RWMutex
	m  map[string]*query.Query
}

func (s *Server) compile(text string) (*query.Query, *apiError) {
	s.qcache.mu.RLock()
	pq := s.qcache.m[text]
	s.qcache.mu.RUnlock()
	if pq != nil {
		return pq, nil
	}
	pq, err := query.Parse(text)
	if err != nil {
		if qe, ok := err.(*query.Error); ok {
			return nil, queryError(qe)
		}
		return nil, errBadRequest(err.Error())
	}
	s.qcache.mu.Lock()
	if s.qcache.m == nil || len(s.qcache.m) > 1000 {
		s.qcache.m = map[string]*query.Query{}
	}
	s.qcache.m[text] = pq
	s.qcache.mu.Unlock()
	return pq, nil
}

// queryError renders a compile error the way Cosmos does: the message embeds the
// errors JSON with the location of the offending text.
func queryError(qe *query.Error) *apiError {
	type loc struct {
		Start int `json:"start"`
		End   int `json:"end"`
	}
	type entry struct {
		Severity string `json:"severity"`
		Location loc    `json:"location"`
		Code     string `json:"code"`
		Message  string `json:"message"`
	}
	b, _ := json.Marshal(map[string]any{"errors": []entry{{"Error", loc{qe.Pos, qe.End}, qe.Code, qe.Message}}})
	return errBadRequest("Message: " + string(b))
}

// parseQueryRequest decodes the body and compiles the query.
func (s *Server) parseQueryRequest(body []byte) (*query.Query, map[string]any, uint64, *apiError) {
	var qb queryBody
	if err := json.Unmarshal(body, &qb); err != nil {
		return nil, nil, 0, errBadRequest("The query request payload is invalid: " + err.Error())
	}
	if strings.TrimSpace(qb.Query) == "" {
		return nil, nil, 0, errBadRequest("The query text is missing from the request body.")
	}
	pq, e := s.compile(qb.Query)
	if e != nil {
		return nil, nil, 0, e
	}
	h := fnv.New64a()
	h.Write([]byte(qb.Query))
	params := make(map[string]any, len(qb.Parameters))
	for _, p := range qb.Parameters {
		var v any
		if len(p.Value) > 0 {
			if err := json.Unmarshal(p.Value, &v); err != nil {
				return nil, nil, 0, errBadRequest(fmt.Sprintf("The value of query parameter %s is not valid JSON.", p.Name))
			}
		} else {
			v = query.Undefined
		}
		name := p.Name
		if !strings.HasPrefix(name, "@") {
			name = "@" + name
		}
		params[name] = v
		h.Write([]byte(name))
		h.Write(p.Value)
	}
	return pq, params, h.Sum64(), nil
}

// scope returns the documents a query or feed covers: one logical partition when
// the partition key header is present, else every partition (the single partition
// key range "0" holds them all, so x-ms-documentdb-partitionkeyrangeid needs no
// filtering).
func (s *Server) scope(q *request, c *collection) ([]*document, *apiError) {
	key, present, e := pkFromHeader(q.r)
	if e != nil {
		return nil, e
	}
	docs := c.snapshot(key, !present)
	if c.defaultTTL.Load() == ttlOff {
		return docs, nil
	}
	live := docs[:0]
	for _, d := range docs {
		if s.live(c, d) != nil {
			live = append(live, d)
		}
	}
	return live, nil
}

// queryDocs returns the items a query evaluates, in creation order: those of its
// scope (scope), narrowed by the indexes when the WHERE clause pins the item id
// or the partition key with a top-level equality or IN term (query.Equalities):
// then only the items with that id (the id index) or in those logical partitions
// are read. The evaluator still checks the whole clause on each of them, so the
// rows are those of a full scan.
func (s *Server) queryDocs(q *request, c *collection, pq *query.Query, params map[string]any) ([]*document, *apiError) {
	key, present, e := pkFromHeader(q.r)
	if e != nil {
		return nil, e
	}
	var keys []string // the logical partitions to read, when restricted
	restricted := present
	if present {
		keys = []string{key}
	}
	if pks, ok := c.pkEqualities(pq, params); ok {
		if restricted {
			keys = slices.DeleteFunc(pks, func(k string) bool { return k != key })
		} else {
			keys, restricted = pks, true
		}
	}
	var docs []*document
	if ids, ok := pq.Equalities([]string{"id"}, params); ok {
		docs = c.docsByID(ids, keys, restricted)
	} else if restricted {
		docs = c.docsIn(keys)
	} else {
		return s.scope(q, c)
	}
	sortBySeq(docs)
	if c.defaultTTL.Load() == ttlOff {
		return docs, nil
	}
	live := docs[:0]
	for _, d := range docs {
		if s.live(c, d) != nil {
			live = append(live, d)
		}
	}
	return live, nil
}

// pkEqualities returns the partition keys (pkKey) a document must have to satisfy
// the query's equality terms on the partition key path(s); ok is false when a
// path has no such term or a value is one the index cannot map (an object or an
// array). A value that can equal no key (undefined) contributes none.
func (c *collection) pkEqualities(pq *query.Query, params map[string]any) ([]string, bool) {
	combos := [][]any{nil}
	for _, path := range c.paths {
		vals, ok := pq.Equalities(path, params)
		if !ok {
			return nil, false
		}
		var alts []any
		for _, v := range vals {
			switch x := v.(type) {
			case string, bool, nil:
				alts = append(alts, v)
			case float64:
				alts = append(alts, x)
				if x == 0 { // 0 = -0, whose keys differ
					alts = append(alts, -x)
				}
			default:
				if query.IsUndefined(v) {
					continue
				}
				return nil, false
			}
		}
		next := make([][]any, 0, len(combos)*len(alts))
		for _, cmb := range combos {
			for _, a := range alts {
				next = append(next, append(slices.Clip(cmb), a))
			}
		}
		if len(next) > 1000 {
			return nil, false
		}
		combos = next
	}
	keys := make([]string, 0, len(combos))
	for _, cmb := range combos {
		if k := pkKey(cmb); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, true
}

// docsByID returns the items whose id is one of ids (non-strings match none),
// only from the partitions keys when restricted.
func (c *collection) docsByID(ids []any, keys []string, restricted bool) []*document {
	var out []*document
	var parts []*partition
	for i, v := range ids {
		id, ok := v.(string)
		if !ok || slices.Contains(ids[:i], v) {
			continue
		}
		parts = c.ids.lookup(id, parts[:0])
		for _, p := range parts {
			if restricted && !slices.Contains(keys, p.key) {
				continue
			}
			p.mu.RLock()
			d := p.docs[id]
			p.mu.RUnlock()
			if d != nil {
				out = append(out, d)
			}
		}
	}
	return out
}

// docsIn returns the items of the logical partitions keys (distinct).
func (c *collection) docsIn(keys []string) []*document {
	var out []*document
	for _, k := range keys {
		p := c.partitionFor(k, false)
		if p == nil {
			continue
		}
		p.mu.RLock()
		for _, d := range p.docs {
			out = append(out, d)
		}
		p.mu.RUnlock()
	}
	return out
}

// query executes POST .../docs with application/query+json.
func (s *Server) query(q *request, c *collection, body []byte) *apiError {
	pq, params, qhash, e := s.parseQueryRequest(body)
	if e != nil {
		return e
	}
	if s.opts.StrictIndexing && len(pq.OrderBy) > 1 && !c.hasCompositeIndex(pq) {
		return errBadRequest("The order by query does not have a corresponding composite index that it can be served from.")
	}
	docs, e := s.queryDocs(q, c, pq, params)
	if e != nil {
		return e
	}
	// Decode what the query reads: usually a few top-level properties of each
	// item, the whole item only when the query computes with it. When the WHERE
	// clause can be checked on an item alone, items that fail it are dropped here
	// and their map is reused for the next, so a scan allocates little for them.
	names, all := pq.DocumentProperties()
	mt := pq.Matcher(params)
	in := make([]query.Doc, 0, len(docs))
	size := 0
	var spare map[string]any
	for _, d := range docs {
		size += len(d.raw)
		v := decodeInto(spare, d.raw, names, all, d.distinct)
		spare = nil
		if mt != nil && !mt.Match(v) {
			clear(v)
			spare = v
			continue
		}
		in = append(in, query.Doc{Raw: d.raw, Val: v})
	}
	start := time.Now()
	rows, err := pq.Run(in, params)
	if err != nil {
		return errBadRequest(err.Error())
	}
	if strings.EqualFold(q.r.Header.Get("x-ms-documentdb-populatequerymetrics"), "true") {
		q.w.Header()[hQueryMetrics] = []string{queryMetrics(time.Since(start), len(docs), size, len(rows))}
	}
	return s.writePage(q, c, "Documents", rows, qhash, len(docs))
}

// queryMetrics renders the x-ms-documentdb-query-metrics header (semicolon-separated
// name=value pairs) with the figures this server actually has: the evaluation time
// and the documents scanned and produced for the whole query.
func queryMetrics(d time.Duration, scanned, scannedBytes, out int) string {
	ms := float64(d.Microseconds()) / 1000
	return fmt.Sprintf("totalExecutionTimeInMs=%.2f;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;"+
		"queryPhysicalPlanBuildTimeInMs=0.00;queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=%.2f;"+
		"indexLookupTimeInMs=0.00;instructionCount=0;documentLoadTimeInMs=0.00;systemFunctionExecuteTimeInMs=0.00;"+
		"userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount=%d;retrievedDocumentSize=%d;outputDocumentCount=%d;"+
		"outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=1.00", ms, ms, scanned, scannedBytes, out)
}

// readFeed serves GET .../docs: every item of the scope, paged.
func (s *Server) readFeed(q *request, c *collection) *apiError {
	docs, e := s.scope(q, c)
	if e != nil {
		return e
	}
	rows := make([]query.Row, len(docs))
	for i, d := range docs {
		rows[i] = query.Row{Raw: d.raw}
	}
	return s.writePage(q, c, "Documents", rows, 0, len(docs))
}

// continuation tokens name the position in the (deterministically ordered) result
// and a hash of the query, so a token cannot be replayed against another query.
func continuationToken(c *collection, skip int, qhash uint64) string {
	return fmt.Sprintf("+RID:~%s#RT:1#TRC:%d#ISV:2#QH:%x", c.rid, skip, qhash)
}

func parseContinuation(c *collection, tok string, qhash uint64) (int, bool) {
	var rid string
	var skip, rt int
	var h uint64
	// The rid may contain characters fmt's %s would swallow, so split by hand.
	rest, ok := strings.CutPrefix(tok, "+RID:~")
	if !ok {
		return 0, false
	}
	rid, rest, ok = strings.Cut(rest, "#")
	if !ok || rid != c.rid {
		return 0, false
	}
	if _, err := fmt.Sscanf(rest, "RT:%d#TRC:%d#ISV:2#QH:%x", &rt, &skip, &h); err != nil || h != qhash || skip < 0 {
		return 0, false
	}
	return skip, true
}

// writePage writes one page of rows honouring x-ms-max-item-count and
// x-ms-continuation.
func (s *Server) writePage(q *request, c *collection, name string, rows []query.Row, qhash uint64, scanned int) *apiError {
	skip := 0
	if tok := q.r.Header.Get("x-ms-continuation"); tok != "" {
		n, ok := parseContinuation(c, tok, qhash)
		if !ok {
			return errBadRequest("Invalid Continuation Token: the token is malformed or belongs to another query.")
		}
		skip = n
	}
	max := defaultPageSize
	if v := q.r.Header.Get("x-ms-max-item-count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n == 0 {
			return errBadRequest("Invalid value for header x-ms-max-item-count: '" + v + "'. It must be -1 or a positive integer.")
		}
		max = n
	}
	if skip > len(rows) {
		skip = len(rows)
	}
	var b bytes.Buffer
	b.WriteString(`{"_rid":"`)
	b.WriteString(c.rid)
	b.WriteString(`","` + name + `":[`)
	n := 0
	i := skip
	for ; i < len(rows); i++ {
		if max > 0 && n >= max || n > 0 && b.Len() > maxPageBytes {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		if rows[i].Raw != nil {
			b.Write(rows[i].Raw)
		} else {
			enc, err := json.Marshal(rows[i].Val)
			if err != nil {
				return &apiError{status: 500, message: "encoding a query result failed: " + err.Error()}
			}
			b.Write(enc)
		}
		n++
	}
	b.WriteString(`],"_count":`)
	b.WriteString(strconv.Itoa(n))
	b.WriteByte('}')
	h := q.w.Header()
	h[hItemCount] = []string{strconv.Itoa(n)}
	h[hSession] = []string{sessionToken(c)}
	if i < len(rows) {
		h[hContinuation] = []string{continuationToken(c, i, qhash)}
	}
	charge := 2.3 + float64(scanned)*0.01 + float64(n)*0.05
	s.writeJSON(q, http.StatusOK, strconv.FormatFloat(charge, 'f', 2, 64), b.Bytes())
	return nil
}

// queryPlan answers x-ms-cosmos-is-query-plan-request, which the .NET (non-Windows),
// Java, Python and JavaScript SDKs send before a cross-partition query. The plan
// lists no client-side work (no ORDER BY merge, no aggregates, no DISTINCT, no
// TOP/OFFSET/LIMIT rewriting) and the single range; the SDK then sends the original
// query to range "0", where this server executes all of it. The result is exact
// because there is only one range.
func (s *Server) queryPlan(q *request, c *collection, body []byte) *apiError {
	pq, _, _, e := s.parseQueryRequest(body)
	if e != nil {
		return e
	}
	plan := map[string]any{
		"partitionedQueryExecutionInfoVersion": 2,
		"queryInfo": map[string]any{
			"distinctType": "None", "top": nil, "offset": nil, "limit": nil,
			"orderBy": []any{}, "orderByExpressions": []any{}, "groupByExpressions": []any{},
			"groupByAliases": []any{}, "aggregates": []any{}, "groupByAliasToAggregateType": map[string]any{},
			"rewrittenQuery": "", "hasSelectValue": pq.SelectValue, "dCountInfo": nil,
			"hasNonStreamingOrderBy": false,
		},
		"queryRanges": []any{map[string]any{"min": "", "max": "FF", "isMinInclusive": true, "isMaxInclusive": false}},
	}
	out, _ := json.Marshal(plan)
	s.writeJSON(q, http.StatusOK, "0", out)
	return nil
}

// queryResources runs a query over databases or containers (POST /dbs or
// /dbs/{db}/colls with a query), which older SDKs use for "create if not exists".
func (s *Server) queryResources(q *request, body []byte, name, rid string, items [][]byte) *apiError {
	pq, params, _, e := s.parseQueryRequest(body)
	if e != nil {
		return e
	}
	in := make([]query.Doc, 0, len(items))
	for _, it := range items {
		var v any
		if err := json.Unmarshal(it, &v); err == nil {
			in = append(in, query.Doc{Raw: it, Val: v})
		}
	}
	rows, err := pq.Run(in, params)
	if err != nil {
		return errBadRequest(err.Error())
	}
	out := make([][]byte, len(rows))
	for i, r := range rows {
		if r.Raw != nil {
			out[i] = r.Raw
		} else {
			out[i], _ = json.Marshal(r.Val)
		}
	}
	return s.writeFeed(q, name, rid, out)
}
