package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
)

func fakeJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("not-a-real-signature"))
}

func TestDecodeClaimsAudienceString(t *testing.T) {
	c, err := identity.DecodeClaims([]byte(fakeJWT(`{"iss":"i","sub":"s","aud":"one"}`)))
	if err != nil || len(c.Audience) != 1 || c.Audience[0] != "one" {
		t.Errorf("claims %+v, err %v", c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".c"} {
		if _, err := identity.DecodeClaims([]byte(bad)); !errors.Is(err, identity.ErrNotJWT) {
			t.Errorf("DecodeClaims(%q): %v, want ErrNotJWT", bad, err)
		}
	}
}

// The view carries the token's claims, the checks and the permissions, and
// never the token itself.
func TestSourceServesViewWithoutToken(t *testing.T) {
	token := fakeJWT(`{"iss":"https://oidc.example/cluster","sub":"system:serviceaccount:orderflow:backend","aud":["api://AzureADTokenExchange"],"exp":1893456000}`)
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prober := identity.NewProber(func(context.Context, time.Duration) []doctor.Permission {
		return []doctor.Permission{{Check: "cosmos-read", Scope: "cosmos/dbs/orderflow", Role: "Cosmos DB Built-in Data Contributor", Status: doctor.Allowed, Entra: true}}
	}, identity.ProberOptions{})
	src := &identity.Source{
		Info:    identity.Info{Service: "backend", ClientID: "client-b", TenantID: "tenant-1", AuthorityHost: "https://login.example/", TokenFile: path},
		Checker: health.New([]health.Check{{Name: "cosmos", Probe: func(context.Context) error { return nil }}}, health.Options{}),
		Prober:  prober,
	}
	rec := httptest.NewRecorder()
	src.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/identity", nil))
	body := rec.Body.String()
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if strings.Contains(body, strings.Split(token, ".")[1]) || strings.Contains(body, "not-a-real-signature") {
		t.Fatal("the view exposes the token")
	}
	var v identity.View
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Service != "backend" || v.ClientID != "client-b" || v.Token == nil || v.Token.Subject != "system:serviceaccount:orderflow:backend" ||
		v.Token.ExpiresAt.Year() != 2030 || len(v.Dependencies) != 1 || !v.Dependencies[0].Reachable {
		t.Errorf("view %+v", v)
	}
	if v.Permissions == nil || len(v.Permissions.Items) != 1 || v.Permissions.Items[0].Role != "Cosmos DB Built-in Data Contributor" ||
		v.Permissions.Source != identity.ProbeSource || v.Permissions.CheckedAt.IsZero() {
		t.Errorf("permissions %+v", v.Permissions)
	}
}

func TestViewWithoutTokenFileOrProber(t *testing.T) {
	v := (&identity.Source{Info: identity.Info{Service: "frontend"}}).View(context.Background())
	if v.Token != nil || v.TokenError != "AZURE_FEDERATED_TOKEN_FILE is not set" || v.Dependencies == nil || v.Permissions != nil {
		t.Errorf("view %+v", v)
	}
	v = (&identity.Source{Info: identity.Info{TokenFile: filepath.Join(t.TempDir(), "missing")}}).View(context.Background())
	if v.Token != nil || v.TokenError == "" || strings.Contains(v.TokenError, "missing") {
		t.Errorf("unreadable token: %+v (the error must not leak the path's details)", v)
	}
}

// The prober runs one round per TTL however often it is asked, and concurrent
// callers share the round.
func TestProberCachesAndSharesRounds(t *testing.T) {
	var rounds atomic.Int32
	release := make(chan struct{})
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	p := identity.NewProber(func(_ context.Context, timeout time.Duration) []doctor.Permission {
		if timeout != 2*time.Second {
			t.Errorf("probe timeout %v, want the configured 2s", timeout)
		}
		rounds.Add(1)
		<-release
		return []doctor.Permission{{Check: "keyvault-secret", Status: doctor.Allowed}}
	}, identity.ProberOptions{TTL: 30 * time.Second, Timeout: 2 * time.Second, Now: func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		return now
	}})
	var wg sync.WaitGroup
	results := make([]*identity.Permissions, 5)
	for i := range results {
		wg.Go(func() { results[i] = p.Get(context.Background()) })
	}
	time.Sleep(50 * time.Millisecond) // let them all queue behind the first round
	close(release)
	wg.Wait()
	if n := rounds.Load(); n != 1 {
		t.Errorf("%d rounds for 5 concurrent callers, want 1", n)
	}
	for i, r := range results {
		if r == nil || len(r.Items) != 1 {
			t.Errorf("caller %d got %+v", i, r)
		}
	}
	clock.Lock()
	now = now.Add(29 * time.Second)
	clock.Unlock()
	p.Get(context.Background())
	if n := rounds.Load(); n != 1 {
		t.Errorf("a round within the TTL: %d rounds", n)
	}
	clock.Lock()
	now = now.Add(2 * time.Second)
	clock.Unlock()
	if r := p.Get(context.Background()); rounds.Load() != 2 || !r.CheckedAt.Equal(now) {
		t.Errorf("after the TTL: %d rounds, checked at %v", rounds.Load(), r.CheckedAt)
	}
}

// A caller that gives up while another's round runs gets the previous result at
// once rather than waiting.
func TestProberWaiterCanGiveUp(t *testing.T) {
	release := make(chan struct{})
	p := identity.NewProber(func(context.Context, time.Duration) []doctor.Permission {
		<-release
		return nil
	}, identity.ProberOptions{})
	done := make(chan *identity.Permissions)
	go func() { done <- p.Get(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r := p.Get(ctx); r != nil {
		t.Errorf("waiter that gave up before any round finished: %+v, want nil", r)
	}
	close(release)
	if r := <-done; r == nil || r.Items == nil {
		t.Errorf("first caller: %+v, want an empty, non-nil list", r)
	}
}
