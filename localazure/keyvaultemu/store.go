package keyvaultemu

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// recoverableDays is the soft-delete retention of a vault created with defaults.
const recoverableDays = 90

// version is one immutable value of a secret; only its attributes, content type and
// tags change (PATCH).
type version struct {
	id          string // 32 lower-case hex digits, as Key Vault's
	value       string
	contentType string
	tags        map[string]string
	enabled     bool
	nbf, exp    *int64
	created     int64
	updated     int64
}

// secret is every version of one name, oldest first.
type secret struct {
	name     string // as first created; lookups are case-insensitive
	versions []*version
}

func (s *secret) latest() *version { return s.versions[len(s.versions)-1] }

func (s *secret) version(id string) *version {
	for _, v := range s.versions {
		if strings.EqualFold(v.id, id) {
			return v
		}
	}
	return nil
}

// deletedSecret is a soft-deleted secret, recoverable until purged.
type deletedSecret struct {
	*secret
	deleted int64
}

// store holds the vault's secrets. Snapshots handed out are copies, so handlers encode
// them without holding the lock.
//
// A change is decided under the read lock, written to the log (when there is one)
// and only then applied under the write lock, so a change that failed to persist is
// never visible and readers are not held up by the fsync. wmu serialises writers, so
// nothing changes between the decision and the apply.
type store struct {
	wmu     sync.Mutex
	mu      sync.RWMutex
	live    map[string]*secret // lower-case name
	deleted map[string]*deletedSecret
	log     *changeLog // nil: in memory only
}

func newStore() *store {
	return &store{live: map[string]*secret{}, deleted: map[string]*deletedSecret{}}
}

func newVersionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (v *version) clone() *version {
	c := *v
	c.tags = maps.Clone(v.tags)
	return &c
}

// commit persists r and applies it. The caller holds wmu and has checked r against
// the current state.
func (st *store) commit(r record) *kvError {
	if st.log != nil {
		if err := st.log.append(r); err != nil {
			return persistFailed(err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.apply(r); err != nil {
		// Unreachable while writers hold wmu; answered rather than panicking.
		return persistFailed(err)
	}
	return nil
}

// setInput is what a PUT carries.
type setInput struct {
	value, contentType string
	tags               map[string]string
	enabled            *bool
	nbf, exp           *int64
}

// set adds a new version (creating the secret when needed) and returns it.
func (st *store) set(name string, in setInput, now time.Time) (string, *version, *kvError) {
	key := strings.ToLower(name)
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.RLock()
	_, gone := st.deleted[key]
	canon := name
	if s := st.live[key]; s != nil {
		canon = s.name
	}
	st.mu.RUnlock()
	if gone {
		return "", nil, deletedButRecoverable(name)
	}
	v := &version{id: newVersionID(), value: in.value, contentType: in.contentType, tags: maps.Clone(in.tags),
		enabled: in.enabled == nil || *in.enabled, nbf: in.nbf, exp: in.exp, created: now.Unix(), updated: now.Unix()}
	if kerr := st.commit(record{Op: opSet, Name: canon, Version: recOf(v)}); kerr != nil {
		return "", nil, kerr
	}
	return canon, v, nil
}

// get returns a version (the latest when id is "").
func (st *store) get(name, id string) (string, *version, *kvError) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s := st.live[strings.ToLower(name)]
	if s == nil {
		return "", nil, secretNotFound(name)
	}
	if id == "" {
		return s.name, s.latest().clone(), nil
	}
	v := s.version(id)
	if v == nil {
		return "", nil, secretNotFound(name + "/" + id)
	}
	return s.name, v.clone(), nil
}

// updateInput is what a PATCH carries; nil fields stay as they are.
type updateInput struct {
	contentType *string
	tags        map[string]string
	tagsSet     bool
	enabled     *bool
	nbf, exp    *int64
}

func (st *store) update(name, id string, in updateInput, now time.Time) (string, *version, *kvError) {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.RLock()
	s := st.live[strings.ToLower(name)]
	var v *version
	var canon string
	if s != nil {
		canon = s.name
		if v = s.latest(); id != "" {
			v = s.version(id)
		}
		if v != nil {
			v = v.clone() // edited off to the side until it is on disk
		}
	}
	st.mu.RUnlock()
	if s == nil {
		return "", nil, secretNotFound(name)
	}
	if v == nil {
		return "", nil, secretNotFound(name + "/" + id)
	}
	if in.contentType != nil {
		v.contentType = *in.contentType
	}
	if in.tagsSet {
		v.tags = maps.Clone(in.tags)
	}
	if in.enabled != nil {
		v.enabled = *in.enabled
	}
	if in.nbf != nil {
		v.nbf = in.nbf
	}
	if in.exp != nil {
		v.exp = in.exp
	}
	v.updated = now.Unix()
	if kerr := st.commit(record{Op: opUpdate, Name: canon, Version: recOf(v)}); kerr != nil {
		return "", nil, kerr
	}
	return canon, v, nil
}

// remove soft-deletes a secret with all its versions.
func (st *store) remove(name string, now time.Time) (*deletedSecret, *kvError) {
	key := strings.ToLower(name)
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.RLock()
	s := st.live[key]
	var latest *version
	if s != nil {
		latest = s.latest().clone()
	}
	st.mu.RUnlock()
	if s == nil {
		return nil, secretNotFound(name)
	}
	if kerr := st.commit(record{Op: opDelete, Name: s.name, Deleted: now.Unix()}); kerr != nil {
		return nil, kerr
	}
	return &deletedSecret{secret: &secret{name: s.name, versions: []*version{latest}}, deleted: now.Unix()}, nil
}

func (st *store) getDeleted(name string) (*deletedSecret, *kvError) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	d := st.deleted[strings.ToLower(name)]
	if d == nil {
		return nil, deletedSecretNotFound(name)
	}
	return &deletedSecret{secret: &secret{name: d.name, versions: []*version{d.latest().clone()}}, deleted: d.deleted}, nil
}

func (st *store) recover(name string) (string, *version, *kvError) {
	key := strings.ToLower(name)
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.RLock()
	d := st.deleted[key]
	var latest *version
	if d != nil {
		latest = d.latest().clone()
	}
	st.mu.RUnlock()
	if d == nil {
		return "", nil, deletedSecretNotFound(name)
	}
	if kerr := st.commit(record{Op: opRecover, Name: d.name}); kerr != nil {
		return "", nil, kerr
	}
	return d.name, latest, nil
}

func (st *store) purge(name string) *kvError {
	key := strings.ToLower(name)
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.RLock()
	d := st.deleted[key]
	st.mu.RUnlock()
	if d == nil {
		return deletedSecretNotFound(name)
	}
	return st.commit(record{Op: opPurge, Name: d.name})
}

// listItem is one row of a listing: a secret's latest version, or one version.
type listItem struct {
	name    string
	v       *version
	deleted int64
}

// list returns up to max secrets whose lower-case names sort after marker, and
// whether more follow. Names sort case-insensitively, as Key Vault lists them.
func (st *store) list(deleted bool, marker string, max int) ([]listItem, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var keys []string
	if deleted {
		keys = slices.Collect(maps.Keys(st.deleted))
	} else {
		keys = slices.Collect(maps.Keys(st.live))
	}
	slices.Sort(keys)
	start, _ := slices.BinarySearch(keys, marker)
	if start < len(keys) && keys[start] == marker {
		start++
	}
	var out []listItem
	for _, k := range keys[start:] {
		if len(out) == max {
			return out, true
		}
		if deleted {
			d := st.deleted[k]
			out = append(out, listItem{name: d.name, v: d.latest().clone(), deleted: d.deleted})
		} else {
			s := st.live[k]
			out = append(out, listItem{name: s.name, v: s.latest().clone()})
		}
	}
	return out, false
}

// versions returns up to max versions of name starting at offset, oldest first.
func (st *store) listVersions(name string, offset, max int) ([]listItem, bool, *kvError) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s := st.live[strings.ToLower(name)]
	if s == nil {
		// Listing the versions of a missing secret is an empty list, not a 404.
		return nil, false, nil
	}
	var out []listItem
	for i := offset; i < len(s.versions); i++ {
		if len(out) == max {
			return out, true, nil
		}
		out = append(out, listItem{name: s.name, v: s.versions[i].clone()})
	}
	return out, false, nil
}
