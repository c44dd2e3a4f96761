package keyvaultemu

import (
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz/authztest"
)

func TestChallengeAndTokenChecks(t *testing.T) {
	e := startVault(t, seeded(), nil)
	const path = "/secrets/receipt-signing-key?api-version=2026-04-01"

	r := e.do(t, "GET", path, "", "")
	want := `Bearer authorization="https://login.microsoftonline.com/` + authztest.TenantID + `", resource="https://vault.azure.net"`
	if r.status != 401 || r.header.Get("WWW-Authenticate") != want {
		t.Fatalf("challenge: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	if code, _, msg := r.errorCode(t); code != "Unauthorized" || msg != "AKV10000: Request is missing a Bearer or PoP token." {
		t.Errorf("%s %s", code, msg)
	}

	other := authztest.NewIssuer() // same issuer name, a different key
	cases := []struct {
		name, token, msg string
	}{
		{"wrong audience", e.issuer.Token(readerOID, "https://storage.azure.com", time.Hour), "AKV10022: Invalid audience"},
		{"expired", e.issuer.Token(readerOID, "https://vault.azure.net", -time.Hour), "AKV10021"},
		{"foreign key", other.Token(readerOID, "https://vault.azure.net", time.Hour), "AKV10013"},
		{"garbage", "abc.def", "AKV10012"},
	}
	for _, c := range cases {
		r := e.do(t, "GET", path, c.token, "")
		code, _, msg := r.errorCode(t)
		if r.status != 401 || code != "Unauthorized" || !strings.HasPrefix(msg, c.msg) || r.header.Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d %s %s", c.name, r.status, code, msg)
		}
	}
	// The vault's own URL is an accepted audience too.
	if r := e.do(t, "GET", path, e.issuer.Token(readerOID, e.url+"/", time.Hour), ""); r.status != 200 {
		t.Errorf("vault URL audience: %d %s", r.status, r.body)
	}

	// A vault in another tenant refuses this tenant's tokens.
	e2 := startVault(t, seeded(), func(o *Options) { o.TenantID, o.Verifier = "99999999-0000-4000-8000-000000000000", e.issuer })
	r = e2.do(t, "GET", path, e.token(readerOID), "")
	if code, _, msg := r.errorCode(t); r.status != 401 || !strings.HasPrefix(msg, "AKV10032: Invalid issuer") {
		t.Errorf("other tenant: %d %s %s", r.status, code, msg)
	}
}

func TestAPIVersions(t *testing.T) {
	e := startVault(t, seeded(), nil)
	tok := e.token(readerOID)
	for _, q := range []string{"api-version=7.0", "api-version=7.4", "api-version=7.6", "api-version=2025-07-01",
		"api-version=2026-04-01", "api-version=2016-10-01", "api%2Dversion=7.5"} {
		if r := e.do(t, "GET", "/secrets/receipt-signing-key/?"+q, tok, ""); r.status != 200 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	for q, text := range map[string]string{"": "missing", "api-version=9.9": "The specified version (9.9) is not recognized", "api-version=": "missing"} {
		r := e.do(t, "GET", "/secrets/receipt-signing-key?"+q, tok, "")
		if code, _, msg := r.errorCode(t); r.status != 400 || code != "BadParameter" || !strings.Contains(msg, text) {
			t.Errorf("%q: %d %s %s", q, r.status, code, msg)
		}
	}
}

func TestNewValidates(t *testing.T) {
	iss := authztest.NewIssuer()
	base := func() Options {
		return Options{VaultURL: "https://localhost:8401/", TenantID: authztest.TenantID, Verifier: iss}
	}
	cases := map[string]func(*Options){
		"no url":         func(o *Options) { o.VaultURL = "" },
		"relative url":   func(o *Options) { o.VaultURL = "localhost:8401" },
		"url with path":  func(o *Options) { o.VaultURL = "https://localhost:8401/vault" },
		"no tenant":      func(o *Options) { o.TenantID = "" },
		"no verifier":    func(o *Options) { o.Verifier = nil },
		"bad seed name":  func(o *Options) { o.Seed = []Secret{{Name: "a_b"}} },
		"duplicate seed": func(o *Options) { o.Seed = []Secret{{Name: "a"}, {Name: "A"}} },
		"huge seed":      func(o *Options) { o.Seed = []Secret{{Name: "a", Value: strings.Repeat("x", 30000)}} },
	}
	for name, edit := range cases {
		o := base()
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(base()); err != nil {
		t.Error(err)
	}
}
