package keyvaultemu

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// logName is the vault's state file in Options.DataDir: one JSON record per line, each
// the outcome of one acknowledged change. It is rewritten compactly at every start.
const logName = "secrets.log"

// Record operations. A record holds the outcome (the full version, the deletion
// time), never the request, so replay needs no clock or random ids and reproduces
// exactly what clients were told.
const (
	opSet     = "set"     // append version to name, creating the secret
	opUpdate  = "update"  // replace the version with version.ID
	opDelete  = "delete"  // soft-delete name at deleted
	opRecover = "recover" // bring name back from the deleted secrets
	opPurge   = "purge"   // forget the deleted name
)

type record struct {
	Op      string      `json:"op"`
	Name    string      `json:"name"`
	Version *versionRec `json:"version,omitempty"`
	Deleted int64       `json:"deleted,omitempty"`
}

type versionRec struct {
	ID          string            `json:"id"`
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
}

func recOf(v *version) *versionRec {
	return &versionRec{ID: v.id, Value: v.value, ContentType: v.contentType, Tags: maps.Clone(v.tags), Enabled: v.enabled,
		NotBefore: v.nbf, Expires: v.exp, Created: v.created, Updated: v.updated}
}

func (r *versionRec) version() *version {
	return &version{id: r.ID, value: r.Value, contentType: r.ContentType, tags: maps.Clone(r.Tags), enabled: r.Enabled,
		nbf: r.NotBefore, exp: r.Expires, created: r.Created, updated: r.Updated}
}

// apply makes a record's change to the maps. The caller holds st.mu for writing.
// Live changes are checked before their record is written, so an error here means
// the file on disk does not describe a sequence of valid changes.
func (st *store) apply(r record) error {
	key := strings.ToLower(r.Name)
	switch r.Op {
	case opSet:
		if r.Version == nil || !versionID.MatchString(r.Version.ID) {
			return errors.New("set without a valid version")
		}
		if st.deleted[key] != nil {
			return fmt.Errorf("set of deleted secret %s", r.Name)
		}
		s := st.live[key]
		if s == nil {
			s = &secret{name: r.Name}
			st.live[key] = s
		}
		s.versions = append(s.versions, r.Version.version())
	case opUpdate:
		s := st.live[key]
		if s == nil || r.Version == nil {
			return fmt.Errorf("update of missing secret %s", r.Name)
		}
		i := slices.IndexFunc(s.versions, func(v *version) bool { return strings.EqualFold(v.id, r.Version.ID) })
		if i < 0 {
			return fmt.Errorf("update of missing version %s/%s", r.Name, r.Version.ID)
		}
		// A new pointer, not an in-place edit: snapshots already handed out stay as they were.
		s.versions[i] = r.Version.version()
	case opDelete:
		s := st.live[key]
		if s == nil {
			return fmt.Errorf("delete of missing secret %s", r.Name)
		}
		delete(st.live, key)
		st.deleted[key] = &deletedSecret{secret: s, deleted: r.Deleted}
	case opRecover:
		d := st.deleted[key]
		if d == nil {
			return fmt.Errorf("recover of missing deleted secret %s", r.Name)
		}
		delete(st.deleted, key)
		st.live[key] = d.secret
	case opPurge:
		if st.deleted[key] == nil {
			return fmt.Errorf("purge of missing deleted secret %s", r.Name)
		}
		delete(st.deleted, key)
	default:
		return fmt.Errorf("unknown operation %q", r.Op)
	}
	return nil
}

// snapshot is the current state as records that rebuild it: every version of every
// secret in order, then the deletions. The caller holds st.mu.
func (st *store) snapshot() []record {
	var out []record
	emit := func(s *secret) {
		for _, v := range s.versions {
			out = append(out, record{Op: opSet, Name: s.name, Version: recOf(v)})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st.live)) {
		emit(st.live[k])
	}
	for _, k := range slices.Sorted(maps.Keys(st.deleted)) {
		d := st.deleted[k]
		emit(d.secret)
		out = append(out, record{Op: opDelete, Name: d.name, Deleted: d.deleted})
	}
	return out
}

// changeLog is the open state file. Appends are serialised by the store's writer
// lock; mu only guards against Close racing an append.
type changeLog struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	size   int64 // bytes known to be whole records
	broken error // set when the file's state is unknown; every later append fails
}

// load replays dir's state file into st. A last line cut short (the process died
// inside a write, so its change was never acknowledged) is ignored; anything else
// that does not parse or apply is an error, since silently dropping an
// acknowledged change is what this file exists to prevent.
func (st *store) load(dir string) error {
	path := filepath.Join(dir, logName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyvault: read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), len(b)+1)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			if !bytes.HasSuffix(b, []byte("\n")) && isLastLine(b, raw) {
				break // torn final write
			}
			return fmt.Errorf("keyvault: %s line %d: %w", path, line, err)
		}
		if err := st.apply(r); err != nil {
			return fmt.Errorf("keyvault: %s line %d: %w", path, line, err)
		}
	}
	return sc.Err()
}

// isLastLine reports whether raw is the text after b's last newline.
func isLastLine(b, raw []byte) bool {
	return bytes.Equal(b[bytes.LastIndexByte(b, '\n')+1:], raw)
}

// openLog writes st's state compactly to dir (temp file, fsync, rename, fsync of the
// directory, so a crash leaves either the old file or the new one) and opens it for
// appending. The caller holds st.mu or has not shared st yet.
func (st *store) openLog(dir string) (*changeLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyvault: data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, logName)
	var buf bytes.Buffer
	for _, r := range st.snapshot() {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("keyvault: encode %s: %w", r.Name, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("keyvault: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("keyvault: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("keyvault: sync %s: %w", dir, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyvault: %w", err)
	}
	return &changeLog{path: path, f: f, size: int64(buf.Len())}, nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // secret values: owner only
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes one record and fsyncs it; only then may the change be applied and
// acknowledged.
func (l *changeLog) append(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	if l.f == nil {
		return fmt.Errorf("%s is closed", l.path)
	}
	if _, err := l.f.Write(b); err != nil {
		// Cut off a partial record so later appends do not follow garbage; if even
		// that fails, the file's end is unknown and nothing more may be appended.
		if terr := l.f.Truncate(l.size); terr != nil {
			l.broken = fmt.Errorf("%s: write failed (%v) and could not be undone: %w", l.path, err, terr)
		}
		return fmt.Errorf("%s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages and will not
		// report it again, so whether the record is on disk cannot be known.
		l.broken = fmt.Errorf("%s: fsync failed: %w", l.path, err)
		return l.broken
	}
	l.size += int64(len(b))
	return nil
}

func (l *changeLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
