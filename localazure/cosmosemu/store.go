package cosmosemu

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// database is one Cosmos database.
type database struct {
	id   string
	rid  string // 4 bytes, base64
	num  uint32
	ts   int64
	etag string

	mu       sync.RWMutex
	colls    map[string]*collection
	order    []string // creation order, for listing
	nextColl uint32
}

// collection is one container. Documents are kept per logical partition (the
// canonical JSON of the partition key values), each with its own lock, so writers to
// different partitions do not contend and a batch can lock exactly one partition.
type collection struct {
	db     *database
	id     string
	rid    string // db 4 bytes + coll 4 bytes, base64
	num    uint32
	ts     int64
	etag   string
	props  map[string]any // the properties the client sent, plus system properties
	paths  [][]string     // partition key paths split into segments
	pkKind string
	// uniqueKeys is the unique key policy (immutable after creation, as in Cosmos).
	uniqueKeys [][][]string

	lsn        atomic.Uint64 // per-container logical sequence number: session tokens, change feed
	defaultTTL atomic.Int64  // seconds; -1 = on without a default; ttlOff = off
	nextDoc    atomic.Uint64 // document resource ids and creation order

	mu    sync.RWMutex
	parts map[string]*partition
}

type partition struct {
	mu   sync.RWMutex
	docs map[string]*document
}

// document is a stored item: the JSON exactly as served (system properties
// included) and its decoded form for queries and patches. A document is immutable
// once stored; writes replace the pointer.
type document struct {
	id   string
	pk   string // canonical partition key JSON
	raw  []byte
	valp atomic.Pointer[map[string]any] // decoded form; filled lazily from raw
	etag string                         // quoted, as served
	ts   int64
	rid  string
	seq  uint64 // creation order, kept across replaces, for stable query order
	lsn  uint64 // the container's sequence number at this write: change feed order
	ttl  int64  // the item's own "ttl" (seconds, -1 = never), 0 when it has none
}

// encodeRID renders resource-id bytes the way Cosmos does: standard base64 with
// '/' replaced by '-', so that rids are safe in paths.
func encodeRID(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	out := []byte(s)
	for i, c := range out {
		if c == '/' {
			out[i] = '-'
		}
	}
	return string(out)
}

func dbRID(n uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return encodeRID(b[:])
}

func collRID(db, coll uint32) string {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], db)
	// Cosmos sets the top bit of a collection's id.
	binary.BigEndian.PutUint32(b[4:], coll|0x80000000)
	return encodeRID(b[:])
}

func docRID(db, coll uint32, doc uint64) string {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[:4], db)
	binary.BigEndian.PutUint32(b[4:8], coll|0x80000000)
	binary.LittleEndian.PutUint64(b[8:], doc)
	return encodeRID(b[:])
}

// partitionFor returns the partition for key, creating it when create is set.
func (c *collection) partitionFor(key string, create bool) *partition {
	c.mu.RLock()
	p := c.parts[key]
	c.mu.RUnlock()
	if p != nil || !create {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p = c.parts[key]; p == nil {
		p = &partition{docs: map[string]*document{}}
		c.parts[key] = p
	}
	return p
}

// snapshot returns the documents of one partition (key != "") or of all partitions,
// in creation order, for queries and read feeds.
func (c *collection) snapshot(key string, all bool) []*document {
	var parts []*partition
	c.mu.RLock()
	if all {
		parts = make([]*partition, 0, len(c.parts))
		for _, p := range c.parts {
			parts = append(parts, p)
		}
	} else if p := c.parts[key]; p != nil {
		parts = append(parts, p)
	}
	c.mu.RUnlock()
	var out []*document
	for _, p := range parts {
		p.mu.RLock()
		for _, d := range p.docs {
			out = append(out, d)
		}
		p.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// pkValues extracts the partition key values from a decoded document; a missing
// value is undefined, which Cosmos encodes as {} in a partition key.
func (c *collection) pkValues(doc map[string]any) []any {
	vals := make([]any, len(c.paths))
	for i, path := range c.paths {
		var cur any = doc
		for _, seg := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = undefinedPK
				break
			}
			v, ok := m[seg]
			if !ok {
				cur = undefinedPK
				break
			}
			cur = v
		}
		vals[i] = cur
	}
	return vals
}

// undefinedPK marks a missing partition key value; it encodes as {}.
var undefinedPK = map[string]any{}

// pkKey renders partition key values canonically: the JSON array Cosmos uses in the
// x-ms-documentdb-partitionkey header, with strings escaped the same way whichever
// SDK produced them.
func pkKey(vals []any) string {
	// Fast path for the common single plain string: its JSON is known without
	// encoding/json.
	if len(vals) == 1 {
		if str, ok := vals[0].(string); ok && plainJSONString(str) {
			return `["` + str + `"]`
		}
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return ""
	}
	return string(b)
}

// canonicalPKHeader decodes the partition key header and re-encodes it canonically.
func canonicalPKHeader(h string) (string, []any, bool) {
	if len(h) >= 4 && h[0] == '[' && h[1] == '"' && h[len(h)-2] == '"' && h[len(h)-1] == ']' && plainJSONString(h[2:len(h)-2]) {
		return h, nil, true // already canonical: a single plain string
	}
	var vals []any
	if err := json.Unmarshal([]byte(h), &vals); err != nil {
		// A bare value (some clients send "value" without the array) is accepted.
		var v any
		if err2 := json.Unmarshal([]byte(h), &v); err2 != nil {
			return "", nil, false
		}
		vals = []any{v}
	}
	if len(vals) == 0 {
		// "[]" is how some SDKs spell PartitionKey.None: the undefined key.
		vals = []any{undefinedPK}
	}
	for i, v := range vals {
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			vals[i] = undefinedPK
		}
	}
	return pkKey(vals), vals, true
}

// plainJSONString reports whether s encodes in JSON as itself between quotes under
// encoding/json's rules (printable ASCII other than the quote, backslash and the
// HTML-escaped <, > and &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// ttlOff marks a container without time-to-live (no defaultTtl property).
const ttlOff = math.MinInt64

// ttlSetting reads a container's defaultTtl: absent or null is off.
func ttlSetting(props map[string]any) int64 {
	if v, ok := props["defaultTtl"].(float64); ok {
		return int64(v)
	}
	return ttlOff
}

// live returns d, or nil when it does not exist or has expired. Expired items are
// invisible at once, as in Cosmos, and their slots are reused by later writes.
func (s *Server) live(c *collection, d *document) *document {
	if d == nil {
		return nil
	}
	def := c.defaultTTL.Load()
	if def == ttlOff {
		return d
	}
	t := def
	if d.ttl != 0 {
		t = d.ttl
	}
	if t > 0 && s.now().Unix() >= d.ts+t {
		return nil
	}
	return d
}

// purgeExpired deletes the items that have expired.
func (s *Server) purgeExpired(c *collection) {
	if c.defaultTTL.Load() == ttlOff {
		return
	}
	c.mu.RLock()
	parts := make([]*partition, 0, len(c.parts))
	for _, p := range c.parts {
		parts = append(parts, p)
	}
	c.mu.RUnlock()
	for _, p := range parts {
		p.mu.Lock()
		for id, d := range p.docs {
			if s.live(c, d) == nil {
				delete(p.docs, id)
			}
		}
		p.mu.Unlock()
	}
}

// value returns the decoded item, decoding the stored JSON on first use: writes
// that did not need the decoded form skip that cost, and concurrent first uses
// at worst decode twice to the same result.
func (d *document) value() map[string]any {
	if p := d.valp.Load(); p != nil {
		return *p
	}
	var m map[string]any
	_ = json.Unmarshal(d.raw, &m)
	d.valp.Store(&m)
	return m
}
