package keyvaultemu

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/authz/authztest"
)

func withDataDir(dir string) func(*Options) { return func(o *Options) { o.DataDir = dir } }

// state is everything the vault holds, for comparing before and after a restart.
func (s *Server) state() []record {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return s.store.snapshot()
}

// versionIDs lists a secret's version ids through azsecrets, oldest first.
func versionIDs(t *testing.T, c *azsecrets.Client, name string) []string {
	t.Helper()
	var ids []string
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			ids = append(ids, p.ID.Version())
		}
	}
	return ids
}

// TestDataDirSurvivesKill makes every kind of change through azsecrets, then starts a
// second server on the same directory while the first is still open and never
// closed or flushed, as after kill -9: the second must hold exactly what the first
// acknowledged.
func TestDataDirSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	e := startVault(t, nil, withDataDir(dir))
	c := e.secrets(t, officerOID)
	set := func(name, value string, tags map[string]*string) string {
		t.Helper()
		res, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: ptr(value), ContentType: ptr("text/plain"), Tags: tags}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.ID.Version()
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, set("db-password", fmt.Sprintf("v%d", i), map[string]*string{"n": ptr(fmt.Sprint(i))}))
	}
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	if _, err := c.UpdateSecretProperties(ctx, "db-password", ids[1], azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(false), Expires: &exp},
		Tags:             map[string]*string{"state": ptr("retired")},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateSecretProperties(ctx, "db-password", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("text/x")}, nil); err != nil {
		t.Fatal(err)
	}
	set("Deleted-One", "gone", nil)
	set("Deleted-One", "gone2", nil)
	set("recovered", "back", nil)
	set("purged", "forgotten", nil)
	for _, n := range []string{"Deleted-One", "recovered", "purged"} {
		if _, err := c.DeleteSecret(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RecoverDeletedSecret(ctx, "recovered", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "purged", nil); err != nil {
		t.Fatal(err)
	}
	before := e.srv.state()
	first := e.srv // deliberately never closed

	e.restart(t, nil, withDataDir(dir))
	if e.srv == first {
		t.Fatal("restart did not build a new server")
	}
	if after := e.srv.state(); !reflect.DeepEqual(before, after) {
		t.Fatalf("state after restart differs:\nbefore %+v\nafter  %+v", before, after)
	}

	// And as a client sees it, on the new server's address.
	c = e.secrets(t, officerOID)
	if got := versionIDs(t, c, "db-password"); !slices.Equal(got, ids) {
		t.Errorf("versions %v, want %v", got, ids)
	}
	for i, id := range ids {
		res, err := c.GetSecret(ctx, "db-password", id, nil)
		if i == 1 {
			wantResponseError(t, err, 403, "Forbidden") // still disabled
			continue
		}
		if err != nil || *res.Value != fmt.Sprintf("v%d", i) || res.ID.Version() != id {
			t.Errorf("version %d: %v", i, err)
		}
	}
	latest, err := c.GetSecret(ctx, "db-password", "", nil)
	if err != nil || *latest.ContentType != "text/x" || *latest.Tags["n"] != "2" || *latest.Value != "v2" {
		t.Errorf("latest after restart: %v %+v", err, latest.Secret)
	}
	pager := c.NewListSecretPropertiesVersionsPager("db-password", nil)
	page, err := pager.NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := page.Value[1]
	if *old.Attributes.Enabled || !old.Attributes.Expires.Equal(exp) || *old.Tags["state"] != "retired" {
		t.Errorf("updated version after restart: %+v %+v", old.Attributes, old.Tags)
	}
	d, err := c.GetDeletedSecret(ctx, "deleted-one", nil)
	if err != nil || d.ID.Name() != "Deleted-One" || d.DeletedDate == nil {
		t.Errorf("deleted secret after restart: %v", err)
	}
	_, err = c.SetSecret(ctx, "Deleted-One", azsecrets.SetSecretParameters{Value: ptr("x")}, nil)
	wantResponseError(t, err, 409, "Conflict")
	if r, err := c.GetSecret(ctx, "recovered", "", nil); err != nil || *r.Value != "back" {
		t.Errorf("recovered secret after restart: %v", err)
	}
	_, err = c.GetDeletedSecret(ctx, "purged", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	_, err = c.GetSecret(ctx, "purged", "", nil)
	wantResponseError(t, err, 404, "SecretNotFound")

	// The restarted server appends after its compacted rewrite; a third start sees both.
	newID := set("db-password", "v3", nil)
	e.restart(t, nil, withDataDir(dir))
	c = e.secrets(t, officerOID)
	if got := versionIDs(t, c, "db-password"); !slices.Equal(got, append(ids, newID)) {
		t.Errorf("versions after second restart %v", got)
	}
}

// TestDataDirKeepsSeededValues: a seeded secret the directory already has keeps its
// value and version (a generate:32 signing key must not change on restart); a newly
// seeded name is created, and a soft-deleted one stays deleted.
func TestDataDirKeepsSeededValues(t *testing.T) {
	dir := t.TempDir()
	e := startVault(t, []Secret{{Name: "receipt-signing-key", Value: "first"}, {Name: "old-name", Value: "o"}}, withDataDir(dir))
	c := e.secrets(t, officerOID)
	key, err := c.GetSecret(ctx, "receipt-signing-key", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSecret(ctx, "old-name", nil); err != nil {
		t.Fatal(err)
	}

	seed2 := []Secret{{Name: "receipt-signing-key", Value: "second"}, {Name: "old-name", Value: "o2"}, {Name: "added", Value: "new"}}
	e.restart(t, seed2, withDataDir(dir))
	c = e.secrets(t, officerOID)
	got, err := c.GetSecret(ctx, "receipt-signing-key", "", nil)
	if err != nil || *got.Value != "first" || got.ID.Version() != key.ID.Version() {
		t.Fatalf("seeded secret after restart: %v %v", err, got.Secret)
	}
	if v := versionIDs(t, c, "receipt-signing-key"); len(v) != 1 {
		t.Errorf("re-seeding added versions: %v", v)
	}
	_, err = c.GetSecret(ctx, "old-name", "", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	if _, err := c.GetDeletedSecret(ctx, "old-name", nil); err != nil {
		t.Errorf("soft-deleted seeded secret: %v", err)
	}
	added, err := c.GetSecret(ctx, "added", "", nil)
	if err != nil || *added.Value != "new" {
		t.Fatalf("new seeded secret: %v", err)
	}

	// The newly seeded secret was persisted at start: it keeps its id too.
	e.restart(t, []Secret{{Name: "added", Value: "other"}}, withDataDir(dir))
	c = e.secrets(t, officerOID)
	again, err := c.GetSecret(ctx, "added", "", nil)
	if err != nil || *again.Value != "new" || again.ID.Version() != added.ID.Version() {
		t.Errorf("seeded secret after second restart: %v", err)
	}

	// Without a data directory the seed is applied afresh each start, as before.
	m := startVault(t, []Secret{{Name: "k", Value: "a"}}, nil)
	m.restart(t, []Secret{{Name: "k", Value: "b"}}, nil)
	if r, err := m.secrets(t, readerOID).GetSecret(ctx, "k", "", nil); err != nil || *r.Value != "b" {
		t.Errorf("in-memory vault: %v", err)
	}
}

// TestDataDirNotUsable: a directory that cannot be created fails New with its path,
// rather than starting a vault that would lose what it acknowledges.
func TestDataDirNotUsable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "keyvault")
	_, err := New(Options{VaultURL: "https://127.0.0.1:1/", TenantID: "t", Verifier: authztest.NewIssuer(), DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("New with DataDir under a file: %v", err)
	}

	// A damaged record in the middle is an error naming the file and line; only a
	// last line cut short by a crash is dropped.
	good := t.TempDir()
	v := startVault(t, []Secret{{Name: "a", Value: "1"}}, withDataDir(good))
	if _, err := v.secrets(t, officerOID).SetSecret(ctx, "b", azsecrets.SetSecretParameters{Value: ptr("2")}, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(good, logName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"op":"set","name":"c","vers`)
	f.Close()
	v.restart(t, nil, withDataDir(good))
	if names := len(v.srv.state()); names != 2 {
		t.Errorf("after a torn last line: %d records, want 2", names)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("not json\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{VaultURL: "https://127.0.0.1:1/", TenantID: "t", Verifier: v.issuer, DataDir: good})
	if err == nil || !strings.Contains(err.Error(), path+" line 1") {
		t.Errorf("corrupt log: %v", err)
	}
}

// TestDataDirWriteFailureAnswers500: when a change cannot be written, the client gets
// Key Vault's 500 error and the change is not made, in memory or on disk.
func TestDataDirWriteFailureAnswers500(t *testing.T) {
	dir := t.TempDir()
	e := startVault(t, []Secret{{Name: "kept", Value: "k"}}, withDataDir(dir))
	before := e.srv.state()
	// Pull the file out from under the log, as a failing disk would.
	if err := e.srv.store.log.f.Close(); err != nil {
		t.Fatal(err)
	}
	// No retries: azsecrets retries a 500 with backoff, and one answer is what is checked.
	c, err := azsecrets.NewClient(e.url+"/", e.issuer.Credential(officerOID), &azsecrets.ClientOptions{
		ClientOptions:                        policy.ClientOptions{Transport: e.client, Retry: policy.RetryOptions{MaxRetries: -1}},
		DisableChallengeResourceVerification: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetSecret(ctx, "fresh", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
	wantResponseError(t, err, 500, "InternalServerError")
	_, err = c.GetSecret(ctx, "fresh", "", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	_, err = c.DeleteSecret(ctx, "kept", nil)
	wantResponseError(t, err, 500, "InternalServerError")
	_, err = c.UpdateSecretProperties(ctx, "kept", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("x")}, nil)
	wantResponseError(t, err, 500, "InternalServerError")
	if r, err := c.GetSecret(ctx, "kept", "", nil); err != nil || *r.Value != "k" || r.ContentType != nil {
		t.Errorf("kept after failed changes: %v", err)
	}
	r := e.do(t, "PUT", "/secrets/fresh?api-version=7.4", e.token(officerOID), `{"value":"v"}`)
	if code, _, msg := r.errorCode(t); r.status != 500 || code != "InternalServerError" || !strings.Contains(msg, "not made") {
		t.Errorf("raw answer %d %s", r.status, r.body)
	}
	if after := e.srv.state(); !reflect.DeepEqual(before, after) {
		t.Errorf("memory changed by failed writes: %+v", after)
	}
	e.restart(t, nil, withDataDir(dir))
	if after := e.srv.state(); !reflect.DeepEqual(before, after) {
		t.Errorf("disk changed by failed writes: %+v", after)
	}
}

// TestDataDirConcurrentWriters: concurrent sets are each logged once, in the order
// they were applied.
func TestDataDirConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	e := startVault(t, nil, withDataDir(dir))
	c := e.secrets(t, officerOID)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := c.SetSecret(ctx, fmt.Sprintf("s%d", g%3), azsecrets.SetSecretParameters{Value: ptr(fmt.Sprint(i))}, nil); err != nil {
					t.Error(err)
				}
				if _, err := c.GetSecret(ctx, fmt.Sprintf("s%d", g%3), "", nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	before := e.srv.state()
	if len(before) != 40 {
		t.Fatalf("%d versions, want 40", len(before))
	}
	e.restart(t, nil, withDataDir(dir))
	if after := e.srv.state(); !reflect.DeepEqual(before, after) {
		t.Errorf("state after restart differs")
	}
}
