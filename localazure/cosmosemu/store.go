package cosmosemu

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"math"
	"slices"
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

	ids idIndex // item id -> partitions
}

type partition struct {
	key  string // the canonical partition key; items share this string
	mu   sync.RWMutex
	docs map[string]*document
}

// document is a stored item: the JSON exactly as served (system properties
// included) and the few fields requests need without parsing it. Nothing decoded
// is kept: queries and patches decode what they read when they read it (decode.go),
// so an item costs its JSON plus about 200 bytes. A document is immutable once
// stored; writes replace the pointer. Its resource id is not stored: it is
// docRID(db, container, seq), which rid() renders.
type document struct {
	id   string
	pk   string // canonical partition key JSON (the partition's key string)
	raw  []byte // exactly as long as the JSON (no spare capacity)
	etag string // quoted, as served
	ts   int64
	seq  uint64 // creation order, kept across replaces, for stable query order; also the rid
	lsn  uint64 // the container's sequence number at this write: change feed order
	ttl  int32  // the item's own "ttl" (seconds, -1 = never; at most 2^31-1), 0 when it has none
	// distinct is set when the item's top-level keys are known to be distinct,
	// so that decodeProps may stop once it has found what it looks for.
	distinct bool
	// uniq holds the item's value tuple for each unique key of the container
	// (uniqueTuple), nil when it has none.
	uniq []string
}

// rid is the item's resource id.
func (c *collection) docRID(d *document) string { return docRID(c.db.num, c.num, d.seq) }

// put stores d in p (whose lock the caller holds for writing) and keeps the id
// index current.
func (p *partition) put(c *collection, d *document) {
	d.pk = p.key
	if old, ok := p.docs[d.id]; ok {
		d.id = old.id // one copy of the id string, shared with the index
	} else {
		c.ids.add(d.id, p)
	}
	p.docs[d.id] = d
}

// del removes item id from p (whose lock the caller holds for writing).
func (p *partition) del(c *collection, id string) {
	if _, ok := p.docs[id]; ok {
		delete(p.docs, id)
		c.ids.remove(id, p)
	}
}

// idIndex maps an item id to the partitions holding an item with that id (ids
// are unique per logical partition only), so that a cross-partition query on
// c.id reads only those items. It tracks the partitions' maps exactly, expired
// items included (queries check liveness anyway). Sharded so that writers to
// different partitions rarely meet; a shard's lock is a leaf, taken under the
// partition's.
type idIndex struct {
	shards [idShards]idShard
}

const idShards = 64

type idShard struct {
	mu  sync.Mutex
	one map[string]*partition   // the only partition holding the id
	dup map[string][]*partition // ids held by more than one partition
}

var idSeed = maphash.MakeSeed()

func (x *idIndex) shard(id string) *idShard {
	return &x.shards[maphash.String(idSeed, id)%idShards]
}

func (x *idIndex) add(id string, p *partition) {
	sh := x.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ps, ok := sh.dup[id]; ok {
		sh.dup[id] = append(ps, p)
		return
	}
	q, ok := sh.one[id]
	switch {
	case !ok:
		if sh.one == nil {
			sh.one = map[string]*partition{}
		}
		sh.one[id] = p
	case q != p:
		if sh.dup == nil {
			sh.dup = map[string][]*partition{}
		}
		delete(sh.one, id)
		sh.dup[id] = []*partition{q, p}
	}
}

func (x *idIndex) remove(id string, p *partition) {
	sh := x.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ps, ok := sh.dup[id]; ok {
		out := ps[:0]
		for _, q := range ps {
			if q != p {
				out = append(out, q)
			}
		}
		if len(out) == 1 {
			delete(sh.dup, id)
			if sh.one == nil {
				sh.one = map[string]*partition{}
			}
			sh.one[id] = out[0]
		} else {
			sh.dup[id] = out
		}
		return
	}
	if sh.one[id] == p {
		delete(sh.one, id)
	}
}

// lookup appends the partitions holding id to buf.
func (x *idIndex) lookup(id string, buf []*partition) []*partition {
	sh := x.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if p, ok := sh.one[id]; ok {
		return append(buf, p)
	}
	return append(buf, sh.dup[id]...)
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
		p = &partition{key: key, docs: map[string]*document{}}
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
	sortBySeq(out)
	return out
}

// sortBySeq puts documents in creation order, the order of queries and feeds.
func sortBySeq(docs []*document) {
	bySeq := func(a, b *document) int { return cmp.Compare(a.seq, b.seq) }
	if len(docs) < 256 {
		slices.SortFunc(docs, bySeq)
		return
	}
	// Sequence numbers are distinct and mostly dense: place each item in its slot
	// (linear time) unless they are too sparse.
	lo, hi := docs[0].seq, docs[0].seq
	for _, d := range docs {
		lo, hi = min(lo, d.seq), max(hi, d.seq)
	}
	if hi-lo >= uint64(4*len(docs)) {
		slices.SortFunc(docs, bySeq)
		return
	}
	slots := make([]*document, hi-lo+1)
	for _, d := range docs {
		if slots[d.seq-lo] != nil {
			slices.SortFunc(docs, bySeq) // not distinct after all
			return
		}
		slots[d.seq-lo] = d
	}
	out := docs[:0]
	for _, d := range slots {
		if d != nil {
			out = append(out, d)
		}
	}
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

// itemTTL narrows an item's ttl for storage; a ttl past 2^31-1 seconds (which
// Cosmos refuses, and which is 68 years) is kept as 2^31-1.
func itemTTL(t float64) int32 {
	if t > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(t)
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
		t = int64(d.ttl)
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
				p.del(c, id)
			}
		}
		p.mu.Unlock()
	}
}

// value decodes the item in full; the result is the caller's to keep or change.
func (d *document) value() map[string]any { return decodeDoc(d.raw) }
