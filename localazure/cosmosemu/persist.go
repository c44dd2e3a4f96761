package cosmosemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// snapshotFile is the file in DataDir holding the whole account as of a
// checkpoint; the journal (journal.go) holds every item change since.
const snapshotFile = "cosmos.json"

// checkpointBytes is the journal size past which a checkpoint rewrites the
// snapshot, bounding both the disk used and the replay time at start.
const checkpointBytes = 64 << 20

// persister keeps the account in DataDir so that nothing acknowledged is lost,
// even to kill -9: item writes are answered after their journal record is synced
// (group commit), and changes to databases, containers and offers (rare) after a
// synchronous checkpoint. A checkpoint starts a new journal generation, writes the
// snapshot through a synced temporary file and a rename, then deletes the older
// generations. Start-up loads the snapshot, replays the newer journals and
// checkpoints, which also compacts.
type persister struct {
	s     *Server
	dir   string
	path  string
	j     *journal
	stopc chan struct{}
	done  chan struct{}
	once  sync.Once
	wmu   sync.Mutex // one checkpoint at a time
}

func newPersister(s *Server, dir string) *persister {
	return &persister{s: s, dir: dir, path: filepath.Join(dir, snapshotFile), stopc: make(chan struct{}), done: make(chan struct{})}
}

// journalOps queues one atomic change to c and returns the ticket to wait for
// before answering (0 without DataDir). Call it under the partition's lock.
func (s *Server) journalOps(c *collection, ops ...journalOp) uint64 {
	if s.persist == nil {
		return 0
	}
	return s.persist.j.append(&journalRecord{DB: c.db.id, Coll: c.num, LSN: c.lsn.Load(), NextDoc: c.nextDoc.Load(), Ops: ops})
}

func putOp(d *document) journalOp {
	return journalOp{Put: &journalPut{Seq: d.seq, LSN: d.lsn, Doc: d.raw}}
}

func delOp(pk, id string) journalOp { return journalOp{Del: &journalDel{PK: pk, ID: id}} }

// durable waits until the change with this ticket is on disk.
func (s *Server) durable(ticket uint64) *apiError {
	if ticket == 0 {
		return nil
	}
	if err := s.persist.j.wait(ticket); err != nil {
		s.log.Error("journal write failed", "err", err)
		return &apiError{status: http.StatusInternalServerError, message: "The change could not be written to the data directory: " + err.Error()}
	}
	return nil
}

// commitMetadata makes a change to databases, containers or offers durable before
// it is answered.
func (s *Server) commitMetadata() *apiError {
	if s.persist == nil {
		return nil
	}
	if err := s.persist.checkpoint(); err != nil {
		s.log.Error("checkpoint failed", "path", s.persist.path, "err", err)
		return &apiError{status: http.StatusInternalServerError, message: "The change could not be written to the data directory: " + err.Error()}
	}
	return nil
}

type snapDoc struct {
	Seq uint64          `json:"seq"`
	LSN uint64          `json:"lsn"`
	Doc json.RawMessage `json:"doc"`
}

type snapColl struct {
	Num     uint32          `json:"num"`
	NextDoc uint64          `json:"nextDoc"`
	LSN     uint64          `json:"lsn"`
	Props   json.RawMessage `json:"props"`
	Docs    []snapDoc       `json:"docs"`
}

type snapDB struct {
	ID       string     `json:"id"`
	Num      uint32     `json:"num"`
	TS       int64      `json:"ts"`
	ETag     string     `json:"etag"`
	NextColl uint32     `json:"nextColl"`
	Colls    []snapColl `json:"colls"`
}

type snapOffer struct {
	Resource string         `json:"resource"`
	Target   string         `json:"target"`
	Content  map[string]any `json:"content"`
}

type snapshot struct {
	Journal   uint64      `json:"journal"` // the first journal generation not contained
	NextDB    uint32      `json:"nextDB"`
	Databases []snapDB    `json:"databases"`
	Offers    []snapOffer `json:"offers"`
}

// start opens a journal after the newest generation on disk, checkpoints (so the
// state just loaded and created is on disk, and old journals go), and starts the
// loop that checkpoints when the journal has grown.
func (p *persister) start() error {
	gens, err := journalGenerations(p.dir)
	if err != nil {
		return err
	}
	next := uint64(1)
	if len(gens) > 0 {
		next = gens[len(gens)-1] + 1
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("cosmos: create data dir: %w", err)
	}
	if p.j, err = openJournal(p.dir, next); err != nil {
		return err
	}
	if err := p.checkpoint(); err != nil {
		return err
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if p.j.bytes() > checkpointBytes {
					if err := p.checkpoint(); err != nil {
						p.s.log.Error("checkpoint failed", "path", p.path, "err", err)
					}
				}
			case <-p.stopc:
				return
			}
		}
	}()
	return nil
}

func (p *persister) stop() error {
	var err error
	p.once.Do(func() {
		close(p.stopc)
		<-p.done
		err = p.checkpoint()
		if cerr := p.j.close(); err == nil {
			err = cerr
		}
	})
	return err
}

// checkpoint writes the whole account and drops the journals it contains.
func (p *persister) checkpoint() error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	gen, err := p.j.rotate()
	if err != nil {
		return err
	}
	// Every record in an older generation was applied before it was queued, so
	// the account read from here on contains it.
	if err := p.write(gen); err != nil {
		return err
	}
	gens, err := journalGenerations(p.dir)
	if err != nil {
		return err
	}
	for _, g := range gens {
		if g < gen {
			if err := os.Remove(filepath.Join(p.dir, journalName(g))); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("cosmos: remove old journal: %w", err)
			}
		}
	}
	return nil
}

// write saves the account as the snapshot that journal generation gen continues.
func (p *persister) write(gen uint64) error {
	s := p.s
	snap := snapshot{Journal: gen}
	s.mu.RLock()
	snap.NextDB = s.nextDB
	dbs := make([]*database, 0, len(s.dbOrder))
	for _, id := range s.dbOrder {
		dbs = append(dbs, s.dbs[id])
	}
	s.mu.RUnlock()
	for _, d := range dbs {
		sd := snapDB{ID: d.id, Num: d.num, TS: d.ts, ETag: d.etag}
		d.mu.RLock()
		sd.NextColl = d.nextColl
		colls := make([]*collection, 0, len(d.order))
		for _, id := range d.order {
			colls = append(colls, d.colls[id])
		}
		props := make([][]byte, len(colls))
		for i, c := range colls {
			props[i] = c.json()
		}
		d.mu.RUnlock()
		for i, c := range colls {
			sc := snapColl{Num: c.num, NextDoc: c.nextDoc.Load(), LSN: c.lsn.Load(), Props: props[i]}
			for _, doc := range c.snapshot("", true) {
				sc.Docs = append(sc.Docs, snapDoc{Seq: doc.seq, LSN: doc.lsn, Doc: doc.raw})
			}
			sd.Colls = append(sd.Colls, sc)
		}
		snap.Databases = append(snap.Databases, sd)
	}
	s.offersMu.Lock()
	for _, o := range s.offers {
		o.mu.Lock()
		snap.Offers = append(snap.Offers, snapOffer{Resource: o.resource, Target: o.target, Content: o.content})
		o.mu.Unlock()
	}
	s.offersMu.Unlock()
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("cosmos: encode snapshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return fmt.Errorf("cosmos: create data dir: %w", err)
	}
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cosmos: write snapshot: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cosmos: write snapshot: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("cosmos: replace snapshot: %w", err)
	}
	return syncDir(p.dir)
}

// load restores the snapshot, if there is one, and replays the journals after it.
func (p *persister) load() error {
	from, err := p.loadSnapshot()
	if err != nil {
		return err
	}
	gens, err := journalGenerations(p.dir)
	if err != nil {
		return err
	}
	replayed := 0
	for _, g := range gens {
		if g < from {
			continue // contained in the snapshot; a crash came before their removal
		}
		path := filepath.Join(p.dir, journalName(g))
		n, torn, err := readJournal(path, p.replay)
		if err != nil {
			return fmt.Errorf("cosmos: replay %s: %w", path, err)
		}
		replayed += n
		if torn {
			// Only the tail written when the process died can be torn: nothing
			// in it was acknowledged.
			p.s.log.Warn("journal ends in a partial record (the process stopped while writing it); ignoring the rest", "path", path, "records", n)
		}
	}
	if replayed > 0 {
		p.s.log.Info("replayed journal", "dir", p.dir, "records", replayed)
	}
	return nil
}

// replay applies one journal record; records for containers that no longer
// exist are skipped, and a record already in the snapshot is applied again to
// the same result (each op carries the item's whole state).
func (p *persister) replay(rec *journalRecord) error {
	d := p.s.dbs[rec.DB]
	if d == nil {
		return nil
	}
	var c *collection
	for _, x := range d.colls {
		if x.num == rec.Coll {
			c = x
		}
	}
	if c == nil {
		return nil
	}
	if rec.LSN > c.lsn.Load() {
		c.lsn.Store(rec.LSN)
	}
	if rec.NextDoc > c.nextDoc.Load() {
		c.nextDoc.Store(rec.NextDoc)
	}
	for _, op := range rec.Ops {
		switch {
		case op.Put != nil:
			doc, err := decodeDocument(c, op.Put.Doc, op.Put.Seq, op.Put.LSN)
			if err != nil {
				return err
			}
			c.partitionFor(doc.pk, true).put(c, doc)
		case op.Del != nil:
			if part := c.partitionFor(op.Del.PK, false); part != nil {
				part.del(c, op.Del.ID)
			}
		}
	}
	return nil
}

// loadSnapshot restores the snapshot if one exists and returns the first journal
// generation it does not contain.
func (p *persister) loadSnapshot() (uint64, error) {
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cosmos: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return 0, fmt.Errorf("cosmos: decode snapshot %s: %w", p.path, err)
	}
	s := p.s
	s.nextDB = snap.NextDB
	for _, sd := range snap.Databases {
		d := &database{id: sd.ID, num: sd.Num, rid: dbRID(sd.Num), ts: sd.TS, etag: sd.ETag,
			colls: map[string]*collection{}, nextColl: sd.NextColl}
		for _, sc := range sd.Colls {
			var props map[string]any
			if err := json.Unmarshal(sc.Props, &props); err != nil {
				return 0, fmt.Errorf("cosmos: decode container in snapshot: %w", err)
			}
			c, err := restoreCollection(d, props, sc)
			if err != nil {
				return 0, err
			}
			d.colls[c.id] = c
			d.order = append(d.order, c.id)
		}
		s.dbs[d.id] = d
		s.dbOrder = append(s.dbOrder, d.id)
	}
	for _, o := range snap.Offers {
		s.addOffer(o.Resource, o.Target, o.Content)
	}
	s.log.Info("restored snapshot", "path", p.path, "databases", len(snap.Databases))
	return snap.Journal, nil
}

func restoreCollection(d *database, props map[string]any, sc snapColl) (*collection, error) {
	id, _ := props["id"].(string)
	pkDef, _ := props["partitionKey"].(map[string]any)
	rawPaths, _ := pkDef["paths"].([]any)
	kind, _ := pkDef["kind"].(string)
	c := &collection{db: d, id: id, num: sc.Num, rid: collRID(d.num, sc.Num), props: props, pkKind: kind,
		parts: map[string]*partition{}}
	c.etag, _ = props["_etag"].(string)
	if ts, ok := props["_ts"].(float64); ok {
		c.ts = int64(ts)
	}
	props["_ts"] = c.ts
	for _, rp := range rawPaths {
		ps, _ := rp.(string)
		var segs []string
		for _, seg := range strings.Split(strings.TrimPrefix(ps, "/"), "/") {
			segs = append(segs, strings.Trim(seg, "\"'"))
		}
		c.paths = append(c.paths, segs)
	}
	c.nextDoc.Store(sc.NextDoc)
	c.defaultTTL.Store(ttlSetting(props))
	c.uniqueKeys = uniqueKeys(props)
	c.lsn.Store(sc.LSN)
	for _, sdoc := range sc.Docs {
		doc, err := decodeDocument(c, sdoc.Doc, sdoc.Seq, sdoc.LSN)
		if err != nil {
			return nil, err
		}
		c.partitionFor(doc.pk, true).put(c, doc)
	}
	return c, nil
}

// decodeDocument rebuilds an item of c from its stored JSON, decoding only the
// properties the document's fields come from (the decoded form is not kept).
func decodeDocument(c *collection, raw []byte, seq, lsn uint64) (*document, error) {
	if !json.Valid(raw) {
		return nil, fmt.Errorf("cosmos: decode stored item of %s: not valid JSON", c.id)
	}
	m := decodeProps(raw, c.storedProps(), false)
	if m == nil {
		return nil, fmt.Errorf("cosmos: decode stored item of %s: not a JSON object", c.id)
	}
	doc := &document{raw: raw[:len(raw):len(raw)], seq: seq, lsn: lsn}
	doc.id, _ = m["id"].(string)
	doc.etag, _ = m["_etag"].(string)
	if ts, ok := m["_ts"].(float64); ok {
		doc.ts = int64(ts)
	}
	doc.pk = pkKey(c.pkValues(m))
	if t, ok := m["ttl"].(float64); ok {
		doc.ttl = itemTTL(t)
	}
	doc.uniq = uniqueTuples(c, m)
	doc.distinct = topKeysDistinct(raw)
	return doc, nil
}

// storedProps are the top-level properties decodeDocument reads: the system
// ones, the item's ttl, and the first segment of each partition key and unique
// key path.
func (c *collection) storedProps() []string {
	names := []string{"id", "_etag", "_ts", "ttl"}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, p := range c.paths {
		add(p[0])
	}
	for _, k := range c.uniqueKeys {
		for _, p := range k {
			add(p[0])
		}
	}
	return names
}
