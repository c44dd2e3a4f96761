package fault

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidateNamesTheProblem(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string // "" = valid
	}{
		{Rule{Service: "cosmos", Fault: "throttle"}, ""},
		{Rule{Service: "blob", Operation: "write", Path: "/receipts/", Fault: "unavailable", Rate: 0.2, For: "30s"}, ""},
		{Rule{Service: "servicebus", Fault: "drop-connections", Every: "5s"}, ""},
		{Rule{Service: "sql", Fault: "throttle"}, `service "sql"`},
		{Rule{Service: "cosmos", Fault: "drop-connections"}, `use throttle, unavailable, latency`},
		{Rule{Service: "cosmos", Fault: "throttle", Operation: "delete"}, `operation "delete"`},
		{Rule{Service: "cosmos", Fault: "throttle", Rate: 1.5}, `rate 1.5`},
		{Rule{Service: "cosmos", Fault: "latency"}, `needs latency`},
		{Rule{Service: "cosmos", Fault: "latency", Latency: "soon"}, `latency "soon": write a Go duration`},
		{Rule{Service: "cosmos", Fault: "throttle", Every: "1s"}, `every is for servicebus`},
		{Rule{Service: "servicebus", Fault: "lose-locks", Path: "/x"}, `take no operation, path or rate`},
	} {
		err := c.r.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.r, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want it to say %q", c.r, err, c.want)
		}
	}
}

func serve(in *Injector, service, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	h := in.HTTP(service, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRulesMatchServiceOperationAndPath(t *testing.T) {
	in := New(nil)
	if err := in.Set("config", []Rule{{Service: "cosmos", Operation: "write", Path: "/docs", Fault: "unavailable"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service, method, path string
		hdr                   map[string]string
		want                  int
	}{
		{"cosmos", "POST", "/dbs/o/colls/c/docs", nil, 503},
		{"cosmos", "POST", "/dbs/o/colls/c/docs", map[string]string{"x-ms-documentdb-isquery": "true"}, 418}, // a query reads
		{"cosmos", "GET", "/dbs/o/colls/c/docs/1", nil, 418},
		{"cosmos", "POST", "/dbs", nil, 418},
		{"keyvault", "POST", "/docs", nil, 418},
	} {
		if got := serve(in, c.service, c.method, c.path, c.hdr).Code; got != c.want {
			t.Errorf("%s %s %s %v: %d, want %d", c.service, c.method, c.path, c.hdr, got, c.want)
		}
	}
}

func TestRateAndWindow(t *testing.T) {
	in := New(nil)
	now := time.Now()
	in.now = func() time.Time { return now }
	if err := in.Set("runtime", []Rule{{Service: "blob", Fault: "throttle", Rate: 0.25, For: "10s"}}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	const n = 4000
	for range n {
		if serve(in, "blob", "GET", "/devstoreaccount1/c/b", nil).Code == 503 {
			failed++
		}
	}
	if share := float64(failed) / n; share < 0.2 || share > 0.3 {
		t.Errorf("%d of %d failed (%.2f) at rate 0.25", failed, n, share)
	}
	now = now.Add(11 * time.Second)
	if got := serve(in, "blob", "GET", "/x", nil).Code; got != 418 {
		t.Errorf("after the window: %d", got)
	}
	if len(in.Rules()) != 0 {
		t.Errorf("Rules lists an expired rule: %v", in.Rules())
	}
}

func TestThrottleShapesPerService(t *testing.T) {
	in := New(nil)
	rules := []Rule{}
	for _, s := range []string{"cosmos", "keyvault", "blob", "identity"} {
		rules = append(rules, Rule{Service: s, Fault: "throttle", RetryAfter: "1500ms"})
	}
	if err := in.Set("config", rules); err != nil {
		t.Fatal(err)
	}
	cos := serve(in, "cosmos", "GET", "/", nil)
	if cos.Code != 429 || exact(cos.Header(), "x-ms-retry-after-ms") != "1500" || exact(cos.Header(), "x-ms-substatus") != "3200" || !strings.Contains(cos.Body.String(), `"code":"TooManyRequests"`) {
		t.Errorf("cosmos: %d %v %s", cos.Code, cos.Header(), cos.Body)
	}
	kv := serve(in, "keyvault", "GET", "/", nil)
	if kv.Code != 429 || kv.Header().Get("Retry-After") != "2" || !strings.Contains(kv.Body.String(), `"code":"Throttled"`) {
		t.Errorf("keyvault: %d %v %s", kv.Code, kv.Header(), kv.Body)
	}
	blob := serve(in, "blob", "GET", "/", nil)
	if blob.Code != 503 || exact(blob.Header(), "x-ms-error-code") != "ServerBusy" || !strings.Contains(blob.Body.String(), "<Code>ServerBusy</Code>") {
		t.Errorf("blob: %d %v %s", blob.Code, blob.Header(), blob.Body)
	}
	id := serve(in, "identity", "POST", "/tenant/oauth2/v2.0/token", nil)
	if id.Code != 429 || !strings.Contains(id.Body.String(), `"error":"temporarily_unavailable"`) {
		t.Errorf("identity: %d %s", id.Code, id.Body)
	}
}

func TestRuntimeRulesWinAndReplaceWhole(t *testing.T) {
	in := New(nil)
	_ = in.Set("config", []Rule{{Service: "cosmos", Fault: "unavailable"}})
	_ = in.Set("runtime", []Rule{{Service: "cosmos", Fault: "throttle"}})
	if got := serve(in, "cosmos", "GET", "/", nil).Code; got != 429 {
		t.Errorf("runtime rule did not win: %d", got)
	}
	_ = in.Set("runtime", nil)
	if got := serve(in, "cosmos", "GET", "/", nil).Code; got != 503 {
		t.Errorf("config rule gone with the runtime ones: %d", got)
	}
	if err := in.Set("config", []Rule{{Service: "cosmos", Fault: "nope"}}); err == nil {
		t.Error("an invalid rule was accepted")
	}
	if got := serve(in, "cosmos", "GET", "/", nil).Code; got != 503 {
		t.Errorf("an invalid Set replaced the rules: %d", got)
	}
}

func TestServiceBusActionsRepeatUntilReplaced(t *testing.T) {
	in := New(nil)
	defer in.Close()
	var drops atomic.Int32
	in.OnAction("servicebus", func(f string) int {
		if f == "drop-connections" {
			drops.Add(1)
		}
		return 1
	})
	if err := in.Set("runtime", []Rule{{Service: "servicebus", Fault: "drop-connections", Every: "20ms"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	_ = in.Set("runtime", nil)
	n := drops.Load()
	if n < 3 {
		t.Fatalf("%d drops in 150ms every 20ms", n)
	}
	time.Sleep(100 * time.Millisecond)
	if drops.Load() > n+1 {
		t.Errorf("still dropping after the rule was removed: %d then %d", n, drops.Load())
	}
}

func TestRuntimeFileKeepsAbsoluteWindows(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := WriteRuntime(dir, []Rule{{Service: "cosmos", Fault: "throttle", For: "10s"}, {Service: "blob", Fault: "unavailable"}}, now); err != nil {
		t.Fatal(err)
	}
	later, err := ReadRuntime(dir, now.Add(4*time.Second))
	if err != nil || len(later) != 2 || later[0].For != "6s" || later[1].For != "" {
		t.Fatalf("4 s later: %v %+v", err, later)
	}
	gone, _ := ReadRuntime(dir, now.Add(11*time.Second))
	if len(gone) != 1 || gone[0].Service != "blob" {
		t.Fatalf("after the window: %+v", gone)
	}
	if err := WriteRuntime(dir, []Rule{{Service: "cosmos", Fault: "boom"}}, now); err == nil {
		t.Fatal("an invalid rule was written")
	}
}

// exact looks a header up by the exact name written on the wire: the stand-ins send
// Azure's lowercase x-ms-* names, which http.Header.Get (canonical keys) misses.
func exact(h http.Header, name string) string {
	for k, v := range h {
		if k == name && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
