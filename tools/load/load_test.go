package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFrontend accepts orders and completes each one on the third status read; every
// fifth order is refused with a 503 so the error table has something to count.
func fakeFrontend(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	orders := map[string]*orderView{}
	reads := map[string]int{}
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"id":"p1"},{"id":"p2"},{"id":"p3"}]`)
	})
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			CustomerID string `json:"customerId"`
			Items      []struct {
				ProductID string `json:"productId"`
				Quantity  int    `json:"quantity"`
			} `json:"items"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.CustomerID == "" || len(body.Items) == 0 {
			t.Errorf("bad order body: %v %+v", err, body)
		}
		seen := map[string]bool{}
		for _, it := range body.Items {
			if seen[it.ProductID] || it.Quantity < 1 {
				t.Errorf("order names product %q twice or with quantity %d", it.ProductID, it.Quantity)
			}
			seen[it.ProductID] = true
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		o := &orderView{ID: "o" + string(rune('a'+n%26)) + time.Now().Format("150405.000000000"), Status: "Pending", CreatedAt: time.Now()}
		orders[o.ID] = o
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(o)
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		o := orders[r.PathValue("id")]
		if o == nil {
			http.NotFound(w, r)
			return
		}
		reads[o.ID]++
		if reads[o.ID] >= 3 && o.Status == "Pending" {
			o.Status, o.UpdatedAt = "Completed", o.CreatedAt.Add(40*time.Millisecond)
		}
		json.NewEncoder(w).Encode(o)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunCountsAndTable(t *testing.T) {
	srv := fakeFrontend(t)
	o := options{url: srv.URL, concurrency: 4, duration: 10 * time.Second, orders: 50, customers: 3,
		settle: 10 * time.Second, poll: 10 * time.Millisecond, pids: map[string]int{"self": os.Getpid()}}
	r, err := run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.acceptedN != 40 || r.errors["http 503"] != 10 {
		t.Fatalf("accepted %d, 503s %d; want 40 and 10", r.acceptedN, r.errors["http 503"])
	}
	if r.completedN != 40 || r.backlog != 0 {
		t.Fatalf("completed %d, backlog %d; want 40 and 0", r.completedN, r.backlog)
	}
	if got := percentile(r.e2eLat, 50); got != 40*time.Millisecond {
		t.Fatalf("end-to-end p50 = %s, want the orders' own 40ms", got)
	}
	if r.peakRSS["self"] <= 0 {
		t.Fatal("no RSS sampled for this process")
	}
	var out bytes.Buffer
	r.print(&out)
	for _, want := range []string{"accepted", "completed", "error: http 503", "10", "peak RSS self", "backlog at end"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRatePacing(t *testing.T) {
	srv := fakeFrontend(t)
	r, err := run(context.Background(), options{url: srv.URL, rate: 50, concurrency: 4, duration: 400 * time.Millisecond,
		customers: 1, settle: 5 * time.Second, poll: 10 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	placed := r.acceptedN + r.errors["http 503"]
	// 50/s for 0.4 s is at most 20 ticks (plus one the ticker may hold); a placer that
	// ignored the rate would place hundreds. A slow machine may place fewer, never more.
	if placed < 1 || placed > 21 {
		t.Fatalf("placed %d orders at 50/s in 400ms, want 1..21", placed)
	}
}

func TestParsePIDs(t *testing.T) {
	m, err := parsePIDs("frontend=12,backend=34")
	if err != nil || m["frontend"] != 12 || m["backend"] != 34 {
		t.Fatalf("got %v, %v", m, err)
	}
	if _, err := parsePIDs("frontend"); err == nil {
		t.Fatal("missing pid accepted")
	}
}
