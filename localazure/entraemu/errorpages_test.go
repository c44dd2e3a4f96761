package entraemu

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// emittedCodes reads the AADSTS numbers of every oauthError literal in the package's
// own (non-test) sources, so that the test below follows the code, not a copied list.
func emittedCodes(t *testing.T) []int {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var codes []int
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "oauthError" {
				return true
			}
			var expr ast.Expr
			for i, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "aadsts" {
						expr = kv.Value
					}
				} else if i == 2 { // status, code, aadsts, msg
					expr = el
				}
			}
			bl, ok := expr.(*ast.BasicLit)
			if !ok || bl.Kind != token.INT {
				t.Fatalf("%s: an oauthError whose AADSTS code is not an integer literal; teach this test to read it", fset.Position(lit.Pos()))
			}
			c, _ := strconv.Atoi(bl.Value)
			if !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
			return true
		})
	}
	if len(codes) < 15 { // errors.go had 20 when this was written
		t.Fatalf("found only %d AADSTS codes in the sources: %v", len(codes), codes)
	}
	slices.Sort(codes)
	return codes
}

// TestEveryEmittedCodeHasAnErrorPage: every AADSTS code the local Entra can answer
// with has an explanation page in HTML and JSON, each with its meaning, the usual
// cause on AKS workload identity and the fix; and no page is for a code never emitted.
func TestEveryEmittedCodeHasAnErrorPage(t *testing.T) {
	e := startEntra(t, nil)
	codes := emittedCodes(t)
	for _, c := range codes {
		page, ok := errorPages[c]
		if !ok {
			t.Errorf("AADSTS%d is emitted but has no entry in errorPages", c)
			continue
		}
		if page.Title == "" || page.Meaning == "" || page.Cause == "" || page.Fix == "" {
			t.Errorf("AADSTS%d: page lacks a title, meaning, cause or fix: %+v", c, page)
		}

		res := e.get(t, "/error?code="+strconv.Itoa(c), "text/html")
		if res.status != http.StatusOK || !strings.HasPrefix(res.contentType, "text/html") {
			t.Errorf("AADSTS%d HTML page: %d %s", c, res.status, res.contentType)
		}
		if !strings.Contains(res.body, "<h1>AADSTS"+strconv.Itoa(c)+":") {
			t.Errorf("AADSTS%d HTML page does not name its code:\n%s", c, res.body)
		}

		res = e.get(t, "/error?code="+strconv.Itoa(c), "application/json")
		var got errorPage
		if err := json.Unmarshal([]byte(res.body), &got); err != nil || res.status != http.StatusOK {
			t.Errorf("AADSTS%d JSON page: %d %v %s", c, res.status, err, res.body)
			continue
		}
		if got.Code != c || got.Fix != page.Fix || got.Cause != page.Cause || got.Meaning != page.Meaning {
			t.Errorf("AADSTS%d JSON page = %+v", c, got)
		}
	}
	for c := range errorPages {
		if !slices.Contains(codes, c) {
			t.Errorf("errorPages has AADSTS%d, which nothing emits; remove it", c)
		}
	}
}

// TestFederatedCredentialPagesNameTheFix: the pages for a credential mismatch name
// what to compare and where it is set, in Azure and locally.
func TestFederatedCredentialPagesNameTheFix(t *testing.T) {
	for _, c := range []int{700211, 700212, 700213, 70021} {
		fix := errorPages[c].Fix
		for _, want := range []string{"issuer", "subject", "audience", "az identity federated-credential list", "infra/modules/identity.bicep", "federatedCredentials"} {
			if c == 700212 && (want == "issuer" || want == "subject") {
				continue // the audience page only needs the audience
			}
			if !strings.Contains(fix, want) {
				t.Errorf("AADSTS%d fix does not mention %q: %s", c, want, fix)
			}
		}
	}
}

// TestErrorURIOfATokenErrorAnswers: following the error_uri of a real token error
// gives its page.
func TestErrorURIOfATokenErrorAnswers(t *testing.T) {
	e := startEntra(t, nil)
	// The frontend's token presented as the backend: a subject no credential trusts.
	r := e.post(t, "/"+testTenant+"/oauth2/v2.0/token", exchangeForm(backendApp, e.saToken(t, "orderflow", "frontend", time.Hour), vaultScope))
	if len(r.ErrorCodes) != 1 || r.ErrorCodes[0] != 700213 {
		t.Fatalf("want AADSTS700213, got %+v", r)
	}
	if !strings.HasPrefix(r.ErrorURI, e.url+"/error?code=") {
		t.Fatalf("error_uri %q is not on this server", r.ErrorURI)
	}
	res := e.get(t, strings.TrimPrefix(r.ErrorURI, e.url), "text/html,application/xhtml+xml,*/*;q=0.8")
	if res.status != http.StatusOK || !strings.Contains(res.body, "system:serviceaccount:") {
		t.Fatalf("GET %s: %d\n%s", r.ErrorURI, res.status, res.body)
	}
}

func TestUnknownErrorCodeIsANotFoundProblem(t *testing.T) {
	e := startEntra(t, nil)
	for _, q := range []string{"code=12345", "code=abc", ""} {
		res := e.get(t, "/error?"+q, "text/html")
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal([]byte(res.body), &p); err != nil {
			t.Fatalf("%s: %v %s", q, err, res.body)
		}
		if res.status != http.StatusNotFound || res.contentType != "application/problem+json" || p.Status != 404 || !strings.Contains(p.Detail, "700213") {
			t.Errorf("%q: %d %s %+v", q, res.status, res.contentType, p)
		}
	}
}

func TestAcceptsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "text/html, application/problem+json;q=0.5": true,
		"": false, "text/html": false, "*/*": false, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
	} {
		r, _ := http.NewRequest(http.MethodGet, "/error", nil)
		r.Header.Set("Accept", accept)
		if got := acceptsJSON(r); got != want {
			t.Errorf("acceptsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

type pageReply struct {
	status      int
	contentType string
	body        string
}

func (e *testEnv) get(t *testing.T, path, accept string) pageReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pageReply{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), body: string(b)}
}
