package blobgate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
)

const (
	readerOID      = "reader"
	contributorOID = "contributor"
	ownerOID       = "owner"
)

// upstreamSeen is what the fake Azurite received.
type upstreamSeen struct {
	method, uri, host, auth string
	contentLength           int64
	body                    []byte
}

// gateWithFake fronts a fake Azurite that records each request and answers 200.
func gateWithFake(t *testing.T, iss *authztest.Issuer) (*httptest.Server, chan upstreamSeen) {
	t.Helper()
	seen := make(chan upstreamSeen, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- upstreamSeen{r.Method, r.RequestURI, r.Host, r.Header.Get("Authorization"), r.ContentLength, body}
		w.Header().Set("ETag", `"0x8D"`)
		w.Header().Set("x-ms-request-server-encrypted", "true")
		w.Write([]byte("azurite says hi"))
	}))
	t.Cleanup(up.Close)
	return startGate(t, up.URL, iss), seen
}

func startGate(t *testing.T, upstream string, iss *authztest.Issuer) *httptest.Server {
	t.Helper()
	g, err := New(Options{
		Upstream: upstream, Account: "devstoreaccount1", Transport: &http.Transport{DisableCompression: true},
		Verifier: iss, TenantID: authztest.TenantID,
		Policy: authz.NewPolicy([]authz.Assignment{
			{PrincipalID: readerOID, Role: authz.StorageBlobDataReader, Scope: "storage/attachments"},
			{PrincipalID: contributorOID, Role: authz.StorageBlobDataContributor, Scope: "storage/receipts"},
			{PrincipalID: contributorOID, Role: authz.StorageBlobDataReader, Scope: "storage/attachments"},
			{PrincipalID: ownerOID, Role: authz.StorageBlobDataOwner, Scope: "storage"},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, auth string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("x-ms-version", "2026-12-06")
	req.Header.Set("x-ms-client-request-id", "client-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// unsigned is a token with alg "none", the shape Azurite alone would accept.
func unsigned(oid string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	now := time.Now()
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": "https://sts.windows.net/" + authztest.TenantID + "/", "aud": storageResource, "oid": oid,
		"tid": authztest.TenantID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}) + "."
}

func decodeError(t *testing.T, res *http.Response) blobError {
	t.Helper()
	var e blobError
	body, _ := io.ReadAll(res.Body)
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if !strings.HasPrefix(string(body), "<?xml") || res.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("body %q, content type %q", body, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("x-ms-error-code") != e.Code || res.Header.Get("x-ms-request-id") == "" ||
		!strings.Contains(e.Message, "RequestId:"+res.Header.Get("x-ms-request-id")) || res.Header.Get("x-ms-client-request-id") != "client-1" {
		t.Errorf("headers %v do not match the body %+v", res.Header, e)
	}
	return e
}

func TestRolesPerContainer(t *testing.T) {
	iss := authztest.NewIssuer()
	gate, seen := gateWithFake(t, iss)
	tok := func(oid string) string { return "Bearer " + iss.Token(oid, storageResource, time.Hour) }
	cases := []struct {
		who, method, path string
		allowed           bool
	}{
		{readerOID, "GET", "/devstoreaccount1/attachments/o-1/a.pdf", true},
		{readerOID, "GET", "/devstoreaccount1/attachments?restype=container&comp=list", true},
		{readerOID, "PUT", "/devstoreaccount1/attachments/o-1/a.pdf", false},
		{readerOID, "DELETE", "/devstoreaccount1/attachments/o-1/a.pdf", false},
		{readerOID, "GET", "/devstoreaccount1/receipts/o-1.json", false},
		{readerOID, "GET", "/devstoreaccount1/?comp=list", false}, // listing containers needs the account scope
		{contributorOID, "PUT", "/devstoreaccount1/receipts/o-1.json?comp=block&blockid=AA", true},
		{contributorOID, "PUT", "/devstoreaccount1/receipts/o-1.json?comp=blocklist", true},
		{contributorOID, "DELETE", "/devstoreaccount1/receipts/o-1.json", true},
		{contributorOID, "PUT", "/devstoreaccount1/receipts/o-1.json?comp=tags", false},
		{contributorOID, "PUT", "/devstoreaccount1/attachments/o-1/a.pdf", false},
		{contributorOID, "PUT", "/devstoreaccount1/receipts-archive/o-1.json", false},
		{ownerOID, "GET", "/devstoreaccount1/?comp=list", true},
		{ownerOID, "PUT", "/devstoreaccount1/receipts/o-1.json?comp=tags", true},
		{"stranger", "GET", "/devstoreaccount1/attachments/o-1/a.pdf", false},
	}
	for _, c := range cases {
		// One token per request, compared with what Azurite saw: minting it again for
		// the comparison gives another token once the second (iat) has moved on.
		sent := tok(c.who)
		res := do(t, c.method, gate.URL+c.path, sent, strings.NewReader("body"))
		if !c.allowed {
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s %s: %d, want 403", c.who, c.method, c.path, res.StatusCode)
				continue
			}
			if e := decodeError(t, res); e.Code != "AuthorizationPermissionMismatch" || !strings.HasPrefix(e.Message, "This request is not authorized to perform this operation using this permission.") {
				t.Errorf("%s %s %s: %+v", c.who, c.method, c.path, e)
			}
			select {
			case s := <-seen:
				t.Errorf("refused request reached Azurite: %+v", s)
			default:
			}
			continue
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s %s %s: %d, want 200", c.who, c.method, c.path, res.StatusCode)
			continue
		}
		s := <-seen
		// Passed on unchanged: method, path and query, the token, the body, the Host.
		if s.method != c.method || s.uri != c.path || s.auth != sent || s.host != strings.TrimPrefix(gate.URL, "http://") {
			t.Errorf("upstream saw %+v", s)
		}
		if c.method == "PUT" && (string(s.body) != "body" || s.contentLength != 4) {
			t.Errorf("upstream body %q length %d", s.body, s.contentLength)
		}
		if res.Header.Get("ETag") != `"0x8D"` || res.Header.Get("x-ms-request-server-encrypted") != "true" {
			t.Errorf("answer headers not passed back: %v", res.Header)
		}
	}
}

func TestCopyNeedsReadOnTheSource(t *testing.T) {
	iss := authztest.NewIssuer()
	gate, seen := gateWithFake(t, iss)
	tok := "Bearer " + iss.Token(contributorOID, storageResource, time.Hour)
	copyTo := func(src string) *http.Response {
		req, _ := http.NewRequest("PUT", gate.URL+"/devstoreaccount1/receipts/copy.pdf", nil)
		req.Header.Set("Authorization", tok)
		req.Header.Set("x-ms-copy-source", src)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := copyTo(gate.URL + "/devstoreaccount1/attachments/a.pdf"); res.StatusCode != 200 {
		t.Errorf("copy from a readable container: %d", res.StatusCode)
	} else {
		<-seen
	}
	if res := copyTo(gate.URL + "/devstoreaccount1/private/a.pdf"); res.StatusCode != 403 {
		t.Errorf("copy from a container without a role: %d, want 403", res.StatusCode)
	}
	if res := copyTo(gate.URL + "/devstoreaccount1/private/a.pdf?sv=2024-01-01&sig=abc"); res.StatusCode != 200 {
		t.Errorf("copy from a SAS URL (authorized by the SAS): %d", res.StatusCode)
	} else {
		<-seen
	}
}

func TestRefusedTokens(t *testing.T) {
	iss := authztest.NewIssuer()
	gate, seen := gateWithFake(t, iss)
	foreign := authztest.NewIssuer()
	cases := map[string]struct{ auth, detail string }{
		"unsigned":       {"Bearer " + unsigned(ownerOID), "malformed"},
		"foreign-signed": {"Bearer " + foreign.Token(ownerOID, storageResource, time.Hour), "Signature validation failed"},
		"expired":        {"Bearer " + iss.Token(ownerOID, storageResource, -time.Hour), "Lifetime validation failed"},
		"vault audience": {"Bearer " + iss.Token(ownerOID, "https://vault.azure.net", time.Hour), "Audience validation failed"},
		"empty bearer":   {"Bearer ", "malformed"},
	}
	for name, c := range cases {
		res := do(t, "GET", gate.URL+"/devstoreaccount1/attachments/a.pdf", c.auth, nil)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, res.StatusCode)
			continue
		}
		want := "Bearer authorization_uri=https://login.microsoftonline.com/" + authztest.TenantID + "/oauth2/authorize resource_id=https://storage.azure.com"
		if got := res.Header.Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: challenge %q, want %q", name, got, want)
		}
		e := decodeError(t, res)
		if e.Code != "InvalidAuthenticationInfo" || !strings.Contains(e.Detail, c.detail) {
			t.Errorf("%s: %+v", name, e)
		}
	}
	// HEAD: the same status and headers, no body.
	res := do(t, "HEAD", gate.URL+"/devstoreaccount1/attachments/a.pdf", "Bearer "+unsigned(ownerOID), nil)
	if res.StatusCode != 401 || res.Header.Get("x-ms-error-code") != "InvalidAuthenticationInfo" {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
	select {
	case s := <-seen:
		t.Errorf("refused request reached Azurite: %+v", s)
	default:
	}
}

// Shared Key, SAS and anonymous requests are Azurite's to check: passed on as sent.
func TestOtherCredentialsPassThrough(t *testing.T) {
	gate, seen := gateWithFake(t, authztest.NewIssuer())
	for _, c := range []struct{ path, auth string }{
		{"/devstoreaccount1/receipts/o-1.json", "SharedKey devstoreaccount1:c2lnbmF0dXJl"},
		{"/devstoreaccount1/receipts/o-1.json?sv=2024-01-01&sp=r&sig=abc%2B", ""},
		{"/devstoreaccount1/?comp=list", ""},
	} {
		res := do(t, "PUT", gate.URL+c.path, c.auth, bytes.NewReader([]byte("x")))
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", c.path, res.StatusCode)
			continue
		}
		if s := <-seen; s.uri != c.path || s.auth != c.auth {
			t.Errorf("upstream saw %+v", s)
		}
	}
}

// Bodies stream both ways: Azurite gets the first bytes of an upload before the
// client has sent the rest, and the client gets the first bytes of a download
// before Azurite has written the rest. Nothing is buffered whole.
func TestStreamsBothWays(t *testing.T) {
	iss := authztest.NewIssuer()
	gotFirst, sendRest := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
				t.Errorf("first upload bytes %q: %v", buf, err)
			}
			close(gotFirst)
			rest, _ := io.ReadAll(r.Body)
			if string(rest) != "-rest" || len(r.TransferEncoding) == 0 || r.TransferEncoding[0] != "chunked" {
				t.Errorf("rest %q, transfer encoding %v", rest, r.TransferEncoding)
			}
			w.WriteHeader(201)
			return
		}
		w.Header().Set("Content-Length", "10")
		w.Header().Set("Content-Range", "bytes 0-9/100")
		w.WriteHeader(http.StatusPartialContent)
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		<-sendRest
		w.Write([]byte("-rest"))
	}))
	defer up.Close()
	gate := startGate(t, up.URL, iss)
	tok := "Bearer " + iss.Token(contributorOID, storageResource, time.Hour)

	pr, pw := io.Pipe()
	done := make(chan *http.Response)
	go func() {
		req, _ := http.NewRequest("PUT", gate.URL+"/devstoreaccount1/receipts/big", pr)
		req.Header.Set("Authorization", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		done <- res
	}()
	pw.Write([]byte("first"))
	select {
	case <-gotFirst:
	case <-time.After(5 * time.Second):
		t.Fatal("upload: Azurite did not see the first bytes before the body ended")
	}
	pw.Write([]byte("-rest"))
	pw.Close()
	if res := <-done; res == nil || res.StatusCode != 201 {
		t.Fatalf("upload answer %v", res)
	}

	req, _ := http.NewRequest("GET", gate.URL+"/devstoreaccount1/receipts/big", nil)
	req.Header.Set("Authorization", tok)
	req.Header.Set("x-ms-range", "bytes=0-9")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 206 || res.ContentLength != 10 || res.Header.Get("Content-Range") != "bytes 0-9/100" {
		t.Fatalf("download: %d length %d range %q", res.StatusCode, res.ContentLength, res.Header.Get("Content-Range"))
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("download first bytes %q: %v", first, err)
	}
	close(sendRest)
	if rest, _ := io.ReadAll(res.Body); string(rest) != "-rest" {
		t.Fatalf("download rest %q", rest)
	}
}

func TestUpstreamDown(t *testing.T) {
	iss := authztest.NewIssuer()
	up := httptest.NewServer(http.NotFoundHandler())
	up.Close()
	gate := startGate(t, up.URL, iss)
	res := do(t, "GET", gate.URL+"/devstoreaccount1/receipts/x", "Bearer "+iss.Token(ownerOID, storageResource, time.Hour), nil)
	if res.StatusCode != http.StatusBadGateway || decodeError(t, res).Code != "InternalError" {
		t.Fatalf("Azurite down: %d", res.StatusCode)
	}
}
