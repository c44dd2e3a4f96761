package cosmos

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// snapshotFile is the file in DataDir holding the whole account.
const snapshotFile = "cosmos.json"

// snapshotInterval bounds how long a change may stay only in memory.
const snapshotInterval = time.Second

// persister writes the account to DataDir shortly after changes: at most one write
// per interval, whole-file, via rename so that a crash never leaves half a file.
type persister struct {
	s     *Server
	path  string
	dirty atomic.Bool
	stopc chan struct{}
	done  chan struct{}
	once  sync.Once
	wmu   sync.Mutex
}

func newPersister(s *Server, dir string) *persister {
	return &persister{s: s, path: filepath.Join(dir, snapshotFile), stopc: make(chan struct{}), done: make(chan struct{})}
}

// changed marks the account as modified (a no-op without DataDir).
func (s *Server) changed() {
	if s.persist != nil {
		s.persist.dirty.Store(true)
	}
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
	NextDB    uint32      `json:"nextDB"`
	Databases []snapDB    `json:"databases"`
	Offers    []snapOffer `json:"offers"`
}

func (p *persister) start() {
	go func() {
		defer close(p.done)
		t := time.NewTicker(snapshotInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if p.dirty.Swap(false) {
					if err := p.write(); err != nil {
						p.s.log.Error("snapshot failed", "path", p.path, "err", err)
						p.dirty.Store(true)
					}
				}
			case <-p.stopc:
				return
			}
		}
	}()
}

func (p *persister) stop() error {
	var err error
	p.once.Do(func() {
		close(p.stopc)
		<-p.done
		err = p.write()
	})
	return err
}

func (p *persister) write() error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	s := p.s
	var snap snapshot
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
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("cosmos: write snapshot: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("cosmos: replace snapshot: %w", err)
	}
	return nil
}

// load restores a snapshot if one exists.
func (p *persister) load() error {
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cosmos: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("cosmos: decode snapshot %s: %w", p.path, err)
	}
	s := p.s
	s.nextDB = snap.NextDB
	for _, sd := range snap.Databases {
		d := &database{id: sd.ID, num: sd.Num, rid: dbRID(sd.Num), ts: sd.TS, etag: sd.ETag,
			colls: map[string]*collection{}, nextColl: sd.NextColl}
		for _, sc := range sd.Colls {
			var props map[string]any
			if err := json.Unmarshal(sc.Props, &props); err != nil {
				return fmt.Errorf("cosmos: decode container in snapshot: %w", err)
			}
			c, err := restoreCollection(d, props, sc)
			if err != nil {
				return err
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
	return nil
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
		var m map[string]any
		if err := json.Unmarshal(sdoc.Doc, &m); err != nil {
			return nil, fmt.Errorf("cosmos: decode item in snapshot of %s: %w", id, err)
		}
		doc := &document{raw: sdoc.Doc, seq: sdoc.Seq, lsn: sdoc.LSN}
		doc.valp.Store(&m)
		doc.id, _ = m["id"].(string)
		doc.etag, _ = m["_etag"].(string)
		doc.rid, _ = m["_rid"].(string)
		if ts, ok := m["_ts"].(float64); ok {
			doc.ts = int64(ts)
		}
		doc.pk = pkKey(c.pkValues(m))
		if t, ok := m["ttl"].(float64); ok {
			doc.ttl = int64(t)
		}
		c.partitionFor(doc.pk, true).docs[doc.id] = doc
	}
	return c, nil
}
