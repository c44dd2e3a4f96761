package keyvaultemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

var ctx = context.Background()

func seeded() []Secret {
	past, future := time.Now().Add(-time.Hour).Truncate(time.Second), time.Now().Add(time.Hour).Truncate(time.Second)
	return []Secret{
		{Name: "receipt-signing-key", Value: "c2VjcmV0", ContentType: "application/octet-stream", Tags: map[string]string{"purpose": "receipts"}},
		{Name: "disabled-secret", Value: "off", Enabled: ptr(false)},
		{Name: "expired-secret", Value: "old", Expires: &past},
		{Name: "future-secret", Value: "soon", NotBefore: &future},
	}
}

// wantResponseError asserts an *azcore.ResponseError with status and Key Vault code.
func wantResponseError(t *testing.T, err error, status int, code string) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a ResponseError %d %s, got %v", status, code, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %s, want %d %s: %v", re.StatusCode, re.ErrorCode, status, code, err)
	}
	return re
}

func TestGetSeededSecret(t *testing.T) {
	e := startVault(t, seeded(), nil)
	c := e.secrets(t, readerOID)
	for _, version := range []string{"", "latest-by-id"} {
		v := ""
		if version != "" {
			first, err := c.GetSecret(ctx, "receipt-signing-key", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			v = first.ID.Version()
		}
		res, err := c.GetSecret(ctx, "receipt-signing-key", v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *res.Value != "c2VjcmV0" || *res.ContentType != "application/octet-stream" || *res.Tags["purpose"] != "receipts" {
			t.Errorf("bundle %+v", res.Secret)
		}
		if res.ID.Name() != "receipt-signing-key" || len(res.ID.Version()) != 32 || !strings.HasPrefix(string(*res.ID), e.url+"/secrets/receipt-signing-key/") {
			t.Errorf("id %s", *res.ID)
		}
		a := res.Attributes
		if !*a.Enabled || a.Created == nil || a.Updated == nil || *a.RecoveryLevel != "Recoverable+Purgeable" || *a.RecoverableDays != 90 {
			t.Errorf("attributes %+v", a)
		}
	}
	// Names are case-insensitive; the id keeps the name as created.
	res, err := c.GetSecret(ctx, "Receipt-Signing-KEY", "", nil)
	if err != nil || res.ID.Name() != "receipt-signing-key" {
		t.Errorf("case-insensitive get: %v", err)
	}
}

func TestMissingDisabledExpiredSecrets(t *testing.T) {
	e := startVault(t, seeded(), nil)
	c := e.secrets(t, readerOID)

	_, err := c.GetSecret(ctx, "no-such-secret", "", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	_, err = c.GetSecret(ctx, "receipt-signing-key", "0123456789abcdef0123456789abcdef", nil)
	wantResponseError(t, err, 404, "SecretNotFound")

	_, err = c.GetSecret(ctx, "disabled-secret", "", nil)
	wantResponseError(t, err, 403, "Forbidden")
	r := e.do(t, "GET", "/secrets/disabled-secret?api-version=7.4", e.token(readerOID), "")
	if code, inner, msg := r.errorCode(t); code != "Forbidden" || inner != "SecretDisabled" || msg != "Operation get is not allowed on a disabled secret." {
		t.Errorf("disabled: %s %s %s", code, inner, msg)
	}

	// Key Vault serves secrets outside their validity window; the attributes tell.
	exp, err := c.GetSecret(ctx, "expired-secret", "", nil)
	if err != nil || *exp.Value != "old" || !exp.Attributes.Expires.Before(time.Now()) {
		t.Errorf("expired secret: %v", err)
	}
	fut, err := c.GetSecret(ctx, "future-secret", "", nil)
	if err != nil || *fut.Value != "soon" || !fut.Attributes.NotBefore.After(time.Now()) {
		t.Errorf("not-yet-valid secret: %v", err)
	}
}

func TestVersionsAndUpdate(t *testing.T) {
	e := startVault(t, nil, nil)
	c := e.secrets(t, officerOID)
	var ids []string
	for i := range 4 {
		res, err := c.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{
			Value: ptr(fmt.Sprintf("v%d", i)), ContentType: ptr("text/plain"), Tags: map[string]*string{"n": ptr(fmt.Sprint(i))},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *res.Value != fmt.Sprintf("v%d", i) {
			t.Errorf("set returned %q", *res.Value)
		}
		ids = append(ids, res.ID.Version())
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 4 {
		t.Fatalf("versions not distinct: %v", ids)
	}
	latest, err := c.GetSecret(ctx, "db-password", "", nil)
	if err != nil || *latest.Value != "v3" || latest.ID.Version() != ids[3] {
		t.Fatalf("latest %v %v", latest.ID, err)
	}
	old, err := c.GetSecret(ctx, "db-password", ids[1], nil)
	if err != nil || *old.Value != "v1" {
		t.Fatalf("by version: %v", err)
	}

	var listed []string
	pager := c.NewListSecretPropertiesVersionsPager("db-password", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			listed = append(listed, p.ID.Version())
			if p.Attributes == nil || p.ContentType == nil || *p.ContentType != "text/plain" {
				t.Errorf("version item %+v", p)
			}
		}
	}
	if !slices.Equal(listed, ids) {
		t.Errorf("versions %v, want %v", listed, ids)
	}

	// Disable an old version: it alone is refused.
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	up, err := c.UpdateSecretProperties(ctx, "db-password", ids[1], azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(false), Expires: &exp},
		Tags:             map[string]*string{"state": ptr("retired")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *up.Attributes.Enabled || !up.Attributes.Expires.Equal(exp) || *up.Tags["state"] != "retired" || up.Value != nil || *up.ContentType != "text/plain" {
		t.Errorf("update returned %+v", up.Secret)
	}
	_, err = c.GetSecret(ctx, "db-password", ids[1], nil)
	wantResponseError(t, err, 403, "Forbidden")
	if _, err := c.GetSecret(ctx, "db-password", "", nil); err != nil {
		t.Errorf("latest after disabling an old version: %v", err)
	}
	// Re-enable through the latest-version path ("/secrets/name/").
	if _, err := c.UpdateSecretProperties(ctx, "db-password", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("text/x")}, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.GetSecret(ctx, "db-password", "", nil); *l.ContentType != "text/x" {
		t.Errorf("latest content type %q", *l.ContentType)
	}
	if _, err := c.UpdateSecretProperties(ctx, "db-password", ids[1], azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(true)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, "db-password", ids[1], nil); err != nil {
		t.Errorf("re-enabled version: %v", err)
	}
	_, err = c.UpdateSecretProperties(ctx, "nope", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("x")}, nil)
	wantResponseError(t, err, 404, "SecretNotFound")
}

func TestPagingAcrossPages(t *testing.T) {
	var seed []Secret
	for i := range 60 {
		seed = append(seed, Secret{Name: fmt.Sprintf("s-%02d", 59-i), Value: "x"})
	}
	e := startVault(t, seed, nil)
	c := e.secrets(t, metadataOID) // Key Vault Reader lists but cannot read values
	var names []string
	pages := 0
	pager := c.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page.Value {
			names = append(names, p.ID.Name())
			if p.ID.Version() != "" {
				t.Errorf("list item id %s names a version", *p.ID)
			}
		}
	}
	if pages != 3 || len(names) != 60 || !slices.IsSorted(names) {
		t.Errorf("%d pages, %d names, sorted %v", pages, len(names), slices.IsSorted(names))
	}
	_, err := c.GetSecret(ctx, "s-01", "", nil)
	wantResponseError(t, err, 403, "Forbidden")

	// maxresults and the nextLink the client follows verbatim.
	tok := e.token(readerOID)
	r := e.do(t, "GET", "/secrets?api-version=7.4&maxresults=7", tok, "")
	var got []string
	for {
		m := r.json(t)
		for _, it := range m["value"].([]any) {
			got = append(got, it.(map[string]any)["id"].(string))
		}
		next, _ := m["nextLink"].(string)
		if next == "" {
			if _, present := m["nextLink"]; !present {
				t.Error("last page has no nextLink key (Key Vault sends null)")
			}
			break
		}
		if !strings.HasPrefix(next, e.url+"/secrets?api-version=7.4&$skiptoken=") || !strings.HasSuffix(next, "&maxresults=7") {
			t.Fatalf("nextLink %s", next)
		}
		r = e.do(t, "GET", next, tok, "")
	}
	if len(got) != 60 || got[0] != e.url+"/secrets/s-00" {
		t.Errorf("raw paging got %d, first %v", len(got), got[:1])
	}
	for _, bad := range []string{"maxresults=0", "maxresults=26", "maxresults=x", "$skiptoken=!!"} {
		r := e.do(t, "GET", "/secrets?api-version=7.4&"+bad, tok, "")
		if code, _, _ := r.errorCode(t); r.status != 400 || code != "BadParameter" {
			t.Errorf("%s: %d %s", bad, r.status, code)
		}
	}
	// Versions of a missing secret are an empty list.
	if m := e.do(t, "GET", "/secrets/none/versions?api-version=7.4", tok, "").json(t); len(m["value"].([]any)) != 0 {
		t.Errorf("versions of a missing secret: %v", m)
	}
}

func TestVersionPaging(t *testing.T) {
	e := startVault(t, nil, nil)
	tok := e.token(officerOID)
	for i := range 30 {
		if r := e.do(t, "PUT", "/secrets/many?api-version=7.4", tok, fmt.Sprintf(`{"value":"%d"}`, i)); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	n, pages := 0, 0
	pager := e.secrets(t, officerOID).NewListSecretPropertiesVersionsPager("many", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
		pages++
	}
	if n != 30 || pages != 2 {
		t.Errorf("%d versions in %d pages", n, pages)
	}
}

func TestRBAC(t *testing.T) {
	e := startVault(t, seeded(), nil)
	set := azsecrets.SetSecretParameters{Value: ptr("v")}

	// No role at all.
	_, err := e.secrets(t, nobodyOID).GetSecret(ctx, "receipt-signing-key", "", nil)
	wantResponseError(t, err, 403, "Forbidden")
	r := e.do(t, "GET", "/secrets/receipt-signing-key?api-version=2026-04-01", e.token(nobodyOID), "")
	code, inner, msg := r.errorCode(t)
	for _, want := range []string{"Caller is not authorized to perform action on resource.", "oid=" + nobodyOID, "appid=app-" + nobodyOID,
		"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'", "/secrets/receipt-signing-key'", "Assignment: (not found)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("403 message lacks %q: %s", want, msg)
		}
	}
	if code != "Forbidden" || inner != "ForbiddenByRbac" {
		t.Errorf("%s %s", code, inner)
	}

	// Secrets User reads but does not write.
	reader := e.secrets(t, readerOID)
	_, err = reader.SetSecret(ctx, "receipt-signing-key", set, nil)
	wantResponseError(t, err, 403, "Forbidden")
	r = e.do(t, "PUT", "/secrets/x?api-version=7.4", e.token(readerOID), `{"value":"v"}`)
	if _, inner, msg := r.errorCode(t); inner != "ForbiddenByRbac" || !strings.Contains(msg, "secrets/setSecret/action") {
		t.Errorf("reader write: %s", msg)
	}
	_, err = reader.DeleteSecret(ctx, "receipt-signing-key", nil)
	wantResponseError(t, err, 403, "Forbidden")
	_, err = reader.UpdateSecretProperties(ctx, "receipt-signing-key", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("x")}, nil)
	wantResponseError(t, err, 403, "Forbidden")

	// Officer and Administrator write.
	for _, oid := range []string{officerOID, adminOID} {
		if _, err := e.secrets(t, oid).SetSecret(ctx, "written-by-"+oid[len(oid)-1:], set, nil); err != nil {
			t.Errorf("%s: %v", oid, err)
		}
	}

	// An assignment on one secret covers that secret only, and not listing.
	scoped := e.secrets(t, scopedOID)
	if _, err := scoped.GetSecret(ctx, "receipt-signing-key", "", nil); err != nil {
		t.Errorf("scoped read: %v", err)
	}
	_, err = scoped.GetSecret(ctx, "expired-secret", "", nil)
	wantResponseError(t, err, 403, "Forbidden")
	_, err = scoped.NewListSecretPropertiesPager(nil).NextPage(ctx)
	wantResponseError(t, err, 403, "Forbidden")

	// A nil policy grants nothing.
	e2 := startVault(t, seeded(), func(o *Options) { o.Policy = nil })
	_, err = e2.secrets(t, adminOID).GetSecret(ctx, "receipt-signing-key", "", nil)
	wantResponseError(t, err, 403, "Forbidden")
}

func TestSoftDelete(t *testing.T) {
	e := startVault(t, seeded(), nil)
	c := e.secrets(t, officerOID)
	del, err := c.DeleteSecret(ctx, "receipt-signing-key", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *del.RecoveryID != e.url+"/deletedsecrets/receipt-signing-key" || del.DeletedDate == nil ||
		del.ScheduledPurgeDate.Sub(*del.DeletedDate) != 90*24*time.Hour || del.Value != nil {
		t.Errorf("deleted bundle %+v", del.DeletedSecret)
	}
	_, err = c.GetSecret(ctx, "receipt-signing-key", "", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	_, err = c.SetSecret(ctx, "receipt-signing-key", azsecrets.SetSecretParameters{Value: ptr("new")}, nil)
	wantResponseError(t, err, 409, "Conflict")
	_, err = c.DeleteSecret(ctx, "receipt-signing-key", nil)
	wantResponseError(t, err, 404, "SecretNotFound")

	if d, err := c.GetDeletedSecret(ctx, "receipt-signing-key", nil); err != nil || d.ID.Name() != "receipt-signing-key" {
		t.Fatalf("get deleted: %v", err)
	}
	page, err := c.NewListDeletedSecretPropertiesPager(nil).NextPage(ctx)
	if err != nil || len(page.Value) != 1 || *page.Value[0].RecoveryID != e.url+"/deletedsecrets/receipt-signing-key" {
		t.Fatalf("list deleted: %v", err)
	}
	if _, err := c.RecoverDeletedSecret(ctx, "receipt-signing-key", nil); err != nil {
		t.Fatal(err)
	}
	if s, err := c.GetSecret(ctx, "receipt-signing-key", "", nil); err != nil || *s.Value != "c2VjcmV0" {
		t.Fatalf("after recover: %v", err)
	}

	if _, err := c.DeleteSecret(ctx, "receipt-signing-key", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "receipt-signing-key", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDeletedSecret(ctx, "receipt-signing-key", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	if _, err := c.SetSecret(ctx, "receipt-signing-key", azsecrets.SetSecretParameters{Value: ptr("again")}, nil); err != nil {
		t.Errorf("set after purge: %v", err)
	}
	_, err = e.secrets(t, readerOID).PurgeDeletedSecret(ctx, "expired-secret", nil)
	wantResponseError(t, err, 403, "Forbidden")
	_, err = e.secrets(t, readerOID).RecoverDeletedSecret(ctx, "expired-secret", nil)
	wantResponseError(t, err, 403, "Forbidden")
	_, err = c.RecoverDeletedSecret(ctx, "never-deleted", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
	_, err = c.PurgeDeletedSecret(ctx, "never-deleted", nil)
	wantResponseError(t, err, 404, "SecretNotFound")
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	e := startVault(t, seeded(), nil)
	reader, writer := e.secrets(t, readerOID), e.secrets(t, officerOID)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				var err error
				switch i % 4 {
				case 0:
					_, err = writer.SetSecret(ctx, fmt.Sprintf("c-%d", j%3), azsecrets.SetSecretParameters{Value: ptr(fmt.Sprint(j))}, nil)
				case 1:
					pager := reader.NewListSecretPropertiesPager(nil)
					for pager.More() && err == nil {
						_, err = pager.NextPage(ctx)
					}
				default:
					var s azsecrets.GetSecretResponse
					s, err = reader.GetSecret(ctx, "receipt-signing-key", "", nil)
					if err == nil && *s.Value != "c2VjcmV0" {
						err = errors.New("wrong value " + *s.Value)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	pager := reader.NewListSecretPropertiesVersionsPager("c-0", nil)
	for pager.More() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Value)
	}
	if n != 4*7 { // 4 writers, j%3 == 0 for j in {0,3,...,18}
		t.Errorf("c-0 has %d versions, want 28", n)
	}
}

func TestBadRequests(t *testing.T) {
	e := startVault(t, seeded(), nil)
	tok := e.token(officerOID)
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/secrets/bad_name?api-version=7.4", "", 400, "BadParameter"},
		{"PUT", "/secrets/x?api-version=7.4", `{"contentType":"a"}`, 400, "BadParameter"},
		{"PUT", "/secrets/x?api-version=7.4", `not json`, 400, "BadParameter"},
		{"PUT", "/secrets/x?api-version=7.4", ``, 400, "BadParameter"},
		{"PUT", "/secrets/x?api-version=7.4", `{"value":"` + strings.Repeat("a", 25*1024+1) + `"}`, 400, "BadParameter"},
		{"POST", "/secrets/receipt-signing-key/backup?api-version=7.4", "", 501, "NotSupported"},
		{"POST", "/keys/k/create?api-version=7.4", "{}", 400, "BadParameter"},
		{"GET", "/secrets/receipt-signing-key/not-a-version?api-version=7.4", "", 404, "SecretNotFound"},
	}
	for _, c := range cases {
		r := e.do(t, c.method, c.path, tok, c.body)
		if code, _, msg := r.errorCode(t); r.status != c.status || code != c.code {
			t.Errorf("%s %s: %d %s %s", c.method, c.path[:min(len(c.path), 60)], r.status, code, msg)
		}
	}
	// PUT with tags and attributes through the raw API.
	r := e.do(t, "PUT", "/secrets/raw?api-version=7.4", tok, `{"value":"v","contentType":"text/plain","tags":{"a":"b"},"attributes":{"enabled":false,"exp":4102444800}}`)
	m := r.json(t)
	attrs := m["attributes"].(map[string]any)
	if r.status != 200 || m["value"] != "v" || attrs["enabled"] != false || attrs["exp"] != float64(4102444800) || m["tags"].(map[string]any)["a"] != "b" {
		t.Errorf("raw set: %s", r.body)
	}
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" || r.header.Get("x-ms-request-id") == "" ||
		r.header.Get("x-ms-keyvault-service-version") == "" || r.header.Get("x-ms-keyvault-network-info") == "" {
		t.Errorf("headers %v", r.header)
	}
}
