package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// decodeProblem reads a problem+json response, failing the test on any other media type.
func decodeProblem(t *testing.T, resp *http.Response) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != problemContentType {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Content-Type = %q, want %q; body %s", ct, problemContentType, b)
	}
	var p Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status %d != response status %d", p.Status, resp.StatusCode)
	}
	if p.Type == "" || p.Title == "" {
		t.Errorf("problem lacks type or title: %+v", p)
	}
	return p
}

func fieldsOf(p Problem) []string {
	var out []string
	for _, fe := range p.Errors {
		out = append(out, fe.Field)
	}
	return out
}

func TestPlaceOrderAccepted(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.postJSON("/api/orders", `{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"grinder-hand","quantity":1}],"note":"gift"}`)
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, body %s", resp.StatusCode, b)
	}
	var v orderView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Status != orders.StatusPending || v.CustomerID != "c-1" || len(v.Items) != 2 || v.Total != 2*1200+6900 {
		t.Errorf("order = %+v", v)
	}
	if got, want := resp.Header.Get("Location"), "/api/orders/"+v.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	stored, err := f.orders.Get(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Published {
		t.Error("stored order is not marked published after the send")
	}
	placed, _ := f.publisher.Snapshot()
	if !slices.Equal(placed, []string{v.ID}) {
		t.Errorf("OrderPlaced sent for %v, want [%s]", placed, v.ID)
	}
	// The response must not expose store internals.
	resp2 := f.do(http.MethodGet, "/api/orders/"+v.ID, "", nil)
	body, _ := io.ReadAll(resp2.Body)
	for _, internal := range []string{"published", "receiptBlob", "etag"} {
		if strings.Contains(string(body), internal) {
			t.Errorf("GET order exposes %q: %s", internal, body)
		}
	}
}

func TestPlaceOrderPublishFailureStillAccepts(t *testing.T) {
	f := newFixture(t, Limits{})
	f.publisher.Fail = func(string) error { return orders.Errorf(orders.EUNAVAILABLE, "Service Bus is down.") }
	resp := f.postJSON("/api/orders", `{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":1}]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202: the stored order is the customer's, the reconciler sends it", resp.StatusCode)
	}
	var v orderView
	_ = json.NewDecoder(resp.Body).Decode(&v)
	stored, err := f.orders.Get(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Published {
		t.Error("order marked published although the send failed; the reconciler would never re-send it")
	}
}

func TestPlaceOrderValidation(t *testing.T) {
	long := strings.Repeat("x", orders.MaxNoteLength+1)
	many := strings.TrimSuffix(strings.Repeat(`{"productId":"mug-ceramic","quantity":1},`, orders.MaxItems+1), ",")
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"missing customer", `{"items":[{"productId":"mug-ceramic","quantity":1}]}`, []string{"customerId"}},
		{"bad customer chars", `{"customerId":"a/b","items":[{"productId":"mug-ceramic","quantity":1}]}`, []string{"customerId"}},
		{"customer not a string", `{"customerId":5,"items":[{"productId":"mug-ceramic","quantity":1}]}`, []string{"customerId"}},
		{"no items", `{"customerId":"c","items":[]}`, []string{"items"}},
		{"items not an array", `{"customerId":"c","items":{}}`, []string{"items"}},
		{"too many items", `{"customerId":"c","items":[` + many + `]}`, []string{"items"}},
		{"zero quantity at index 1", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1},{"productId":"grinder-hand","quantity":0}]}`, []string{"items[1].quantity"}},
		{"quantity too big", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":101}]}`, []string{"items[0].quantity"}},
		{"quantity a string", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":"ten"}]}`, []string{"items[0].quantity"}},
		{"quantity fractional", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1.5}]}`, []string{"items[0].quantity"}},
		{"unknown product", `{"customerId":"c","items":[{"productId":"nope","quantity":1}]}`, []string{"items[0].productId"}},
		{"item not an object", `{"customerId":"c","items":[3]}`, []string{"items[0]"}},
		{"note too long", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}],"note":"` + long + `"}`, []string{"note"}},
		{"several at once", `{"customerId":"","items":[{"productId":"","quantity":-1}],"note":"` + long + `"}`,
			[]string{"customerId", "items[0].productId", "items[0].quantity", "note"}},
		{"unknown top-level field", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}],"coupon":"FREE"}`, []string{"coupon"}},
		{"unknown item field", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1},{"productId":"grinder-hand","quantity":1,"price":0}]}`, []string{"items[1].price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			resp := f.postJSON("/api/orders", tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			p := decodeProblem(t, resp)
			got := fieldsOf(p)
			slices.Sort(got)
			want := slices.Clone(tt.fields)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("fields %v, want %v (problem %+v)", got, want, p)
			}
			for _, fe := range p.Errors {
				if fe.Message == "" {
					t.Errorf("field %s has no message", fe.Field)
				}
			}
			if p.Instance != "/api/orders" || p.Code != orders.EINVALID {
				t.Errorf("instance %q code %q", p.Instance, p.Code)
			}
			if f.orders.Len() != 0 {
				t.Error("an invalid order was stored")
			}
		})
	}
}

func TestPlaceOrderMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"empty":         ``,
		"not JSON":      `customerId=c`,
		"truncated":     `{"customerId":"c",`,
		"array":         `[1,2]`,
		"two objects":   `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}]}{}`,
		"trailing junk": `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}]} x`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			resp := f.postJSON("/api/orders", body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			if p := decodeProblem(t, resp); p.Detail == "" {
				t.Error("problem has no detail")
			}
		})
	}
}

func TestPlaceOrderWrongContentType(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.do(http.MethodPost, "/api/orders", "text/plain", strings.NewReader(`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}]}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", resp.StatusCode)
	}
	decodeProblem(t, resp)
}

func TestPlaceOrderBodyTooLarge(t *testing.T) {
	f := newFixture(t, Limits{MaxBodyBytes: 1024})
	big := `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}],"note":"` + strings.Repeat("y", 2048) + `"}`
	t.Run("announced length", func(t *testing.T) {
		resp := f.postJSON("/api/orders", big)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		decodeProblem(t, resp)
	})
	t.Run("chunked", func(t *testing.T) {
		// A reader of unknown length makes the client send chunked, so only the
		// MaxBytesReader can catch it.
		resp := f.do(http.MethodPost, "/api/orders", "application/json", io.MultiReader(strings.NewReader(big)))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		decodeProblem(t, resp)
	})
	if f.orders.Len() != 0 {
		t.Error("an oversized order was stored")
	}
}

func TestGetOrder(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	resp := f.do(http.MethodGet, "/api/orders/"+o.ID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var v orderView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.ID != o.ID || v.Links.Events != "/api/orders/"+o.ID+"/events" || v.Links.Receipt != "" {
		t.Errorf("view %+v", v)
	}

	resp = f.do(http.MethodGet, "/api/orders/does-not-exist", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing order: status %d, want 404", resp.StatusCode)
	}
	decodeProblem(t, resp)

	resp = f.do(http.MethodGet, "/api/orders/..bad", "", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad ID: status %d, want 400", resp.StatusCode)
	}
}

func TestListCustomerOrdersPages(t *testing.T) {
	f := newFixture(t, Limits{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]bool{}
	for i := range 5 {
		want[f.seedOrder("c-pages", base.Add(time.Duration(i)*time.Minute)).ID] = true
	}
	f.seedOrder("someone-else", base)

	seen := map[string]bool{}
	var last time.Time
	path := "/api/customers/c-pages/orders?limit=2"
	pages := 0
	for path != "" {
		pages++
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		resp := f.do(http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		var page orderPage
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatal(err)
		}
		if len(page.Orders) > 2 {
			t.Fatalf("page of %d orders with limit 2", len(page.Orders))
		}
		for _, o := range page.Orders {
			if o.CustomerID != "c-pages" || seen[o.ID] {
				t.Errorf("unexpected or repeated order %+v", o)
			}
			if !last.IsZero() && o.CreatedAt.After(last) {
				t.Errorf("orders not newest first")
			}
			last = o.CreatedAt
			seen[o.ID] = true
		}
		if (page.Continuation == "") != (page.Next == "") {
			t.Errorf("continuation %q but next %q", page.Continuation, page.Next)
		}
		path = page.Next
	}
	if pages != 3 || len(seen) != len(want) {
		t.Errorf("%d pages, %d orders; want 3 pages, %d orders", pages, len(seen), len(want))
	}
}

func TestListCustomerOrdersBadQuery(t *testing.T) {
	f := newFixture(t, Limits{})
	for q, field := range map[string]string{
		"limit=0":    "limit",
		"limit=abc":  "limit",
		"limit=1000": "limit",
		"continuation=" + strings.Repeat("z", maxContinuationBytes+1): "continuation",
	} {
		resp := f.do(http.MethodGet, "/api/customers/c/orders?"+q, "", nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%.20s: status %d, want 400", q, resp.StatusCode)
			continue
		}
		if got := fieldsOf(decodeProblem(t, resp)); !slices.Equal(got, []string{field}) {
			t.Errorf("%.20s: fields %v, want [%s]", q, got, field)
		}
	}
	// A token the store cannot read is the client's mistake, not a 500.
	resp := f.do(http.MethodGet, "/api/customers/c/orders?continuation=garbage", "", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage continuation: status %d, want 400", resp.StatusCode)
	}
}

func TestProducts(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.do(http.MethodGet, "/api/products", "", nil)
	var products []orders.Product
	if err := json.NewDecoder(resp.Body).Decode(&products); err != nil {
		t.Fatal(err)
	}
	if len(products) != len(orders.DefaultCatalog().Products()) || products[0].ID == "" || products[0].UnitPrice <= 0 {
		t.Errorf("products %+v", products)
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	f := newFixture(t, Limits{})
	secret := "AccountKey=c2VjcmV0; host=cosmos-internal.example:443"
	f.orders.Fail = func(op string) error { return fmt.Errorf("dial: %s", secret) }
	resp := f.do(http.MethodGet, "/api/orders/some-id", "", nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "AccountKey") || strings.Contains(string(b), "cosmos-internal") {
		t.Errorf("500 body leaks internals: %s", b)
	}
	if !strings.Contains(string(b), resp.Header.Get(requestIDHeader)) {
		t.Errorf("500 body does not quote the request ID %q: %s", resp.Header.Get(requestIDHeader), b)
	}
	// The log keeps the cause for the operator.
	if !strings.Contains(f.log.String(), "cosmos-internal") {
		t.Error("the cause of a 500 is not logged")
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	for code, want := range map[string]int{
		orders.EINVALID: 400, orders.ENOTFOUND: 404, orders.ECONFLICT: 409, orders.EPRECONDITION: 412,
		orders.ETOOLARGE: 413, orders.EUNSUPPORTED: 415, orders.EUNAVAILABLE: 503, orders.EINTERNAL: 500,
		"something-new": 500,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, want)
		}
		if code != "something-new" && titles[code] == "" {
			t.Errorf("no title for %s", code)
		}
	}
	if statusOf(orders.ErrorCode(errors.New("x"))) != 500 {
		t.Error("unclassified error is not a 500")
	}
}

func TestUnknownRouteIsProblem(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.do(http.MethodGet, "/api/nope", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	decodeProblem(t, resp)
	resp = f.do(http.MethodDelete, "/api/orders", "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", resp.StatusCode)
	}
	decodeProblem(t, resp)
}

func TestRequestLogHasNoQueryOrBody(t *testing.T) {
	f := newFixture(t, Limits{})
	f.do(http.MethodGet, "/api/customers/c/orders?continuation=TOKEN-SHOULD-NOT-BE-LOGGED", "", nil)
	f.postJSON("/api/orders", `{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}],"note":"NOTE-SHOULD-NOT-BE-LOGGED"}`)
	logs := f.log.String()
	if !strings.Contains(logs, "route=/api/customers/:customerId/orders") {
		t.Errorf("request not logged with its route:\n%s", logs)
	}
	for _, s := range []string{"TOKEN-SHOULD-NOT-BE-LOGGED", "NOTE-SHOULD-NOT-BE-LOGGED"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains %s", s)
		}
	}
}

// TestListCustomerOrdersMalformedContinuation sends tokens no store could have
// issued: Cosmos DB's go back as an HTTP header, which Go refuses to send with
// control characters, so they must be refused here as the client's mistake
// (400 naming the field) and never reach the store.
func TestListCustomerOrdersMalformedContinuation(t *testing.T) {
	f := newFixture(t, Limits{})
	var calls atomic.Int32
	f.orders.Fail = func(op string) error {
		if op == "ListByCustomer" {
			calls.Add(1)
		}
		return nil
	}
	for _, tok := range []string{"%00", "%0A", "abc%0D%0Adef", "%09", "%7F", "%C3%A9t%C3%A9", "%20leading", "trailing%20", "%FF"} {
		resp := f.do(http.MethodGet, "/api/customers/c/orders?continuation="+tok, "", nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("continuation=%s: status %d, want 400", tok, resp.StatusCode)
			continue
		}
		if got := fieldsOf(decodeProblem(t, resp)); !slices.Equal(got, []string{"continuation"}) {
			t.Errorf("continuation=%s: fields %v, want [continuation]", tok, got)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the store was asked %d times with a malformed token", n)
	}
	// A token of the shape Cosmos DB issues still reaches the store.
	resp := f.do(http.MethodGet, "/api/customers/c/orders?continuation="+url.QueryEscape(`+RID:~abc=#RT:1#TRC:2#ISV:2`), "", nil)
	if resp.StatusCode != http.StatusBadRequest || calls.Load() != 1 {
		t.Errorf("well-formed token: status %d, store calls %d; want the store's own 400 after 1 call", resp.StatusCode, calls.Load())
	}
}

// TestPlaceOrderDuplicateKeys: encoding/json keeps the last of duplicated keys,
// so these bodies were placed as whatever came last.
func TestPlaceOrderDuplicateKeys(t *testing.T) {
	for body, field := range map[string]string{
		`{"customerId":"a","customerId":"b","items":[{"productId":"mug-ceramic","quantity":1}]}`:                                          "customerId",
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1}],"note":"x","note":"y"}`:                                     "note",
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1}],"items":[]}`:                                                "items",
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1,"quantity":100}]}`:                                            "items[0].quantity",
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1},{"productId":"x","productId":"grinder-hand","quantity":1}]}`: "items[1].productId",
		`{"customerId":"a","CustomerId":"b","items":[{"productId":"mug-ceramic","quantity":1}]}`:                                          "CustomerId",
	} {
		f := newFixture(t, Limits{})
		resp := f.postJSON("/api/orders", body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, resp.StatusCode)
			continue
		}
		if got := fieldsOf(decodeProblem(t, resp)); !slices.Equal(got, []string{field}) {
			t.Errorf("%s: fields %v, want [%s]", body, got, field)
		}
		if f.orders.Len() != 0 {
			t.Errorf("%s: an order was stored", body)
		}
	}
}

// TestHeadAnswersLikeGet: HEAD on a GET route has GET's status and headers and
// no body; it used to be 405.
func TestHeadAnswersLikeGet(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	done := f.seedOrder("c-1", time.Now())
	f.complete(done)
	for _, path := range []string{
		"/healthz", "/api/products", "/api/orders/" + o.ID, "/api/orders/missing", "/api/orders/..bad",
		"/api/customers/c-1/orders?limit=1", "/api/orders/" + done.ID + "/receipt", "/api/orders/" + done.ID + "/events",
	} {
		get := f.do(http.MethodGet, path, "", nil)
		io.Copy(io.Discard, get.Body)
		head := f.do(http.MethodHead, path, "", nil)
		body, _ := io.ReadAll(head.Body)
		if head.StatusCode != get.StatusCode {
			t.Errorf("HEAD %s: status %d, GET %d", path, head.StatusCode, get.StatusCode)
		}
		if len(body) != 0 {
			t.Errorf("HEAD %s: %d body bytes", path, len(body))
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options", "Content-Disposition", "Location"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET %q", path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	// A stream of a pending order answers HEAD with its headers and ends.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, f.http.URL+"/api/orders/"+o.ID+"/events", nil)
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatalf("HEAD events: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD events: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Routes without GET still refuse HEAD.
	if resp := f.do(http.MethodHead, "/api/orders", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /api/orders: status %d, want 405", resp.StatusCode)
	}
}
