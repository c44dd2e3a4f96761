package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The app's placer takes each order's ID from Location, as frontend/api answers a
// 202 (TestPlaceOrderAccepted in frontend/api holds the header), and never needs the body.
func TestAppPlacerReadsTheLocation(t *testing.T) {
	var customers []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			CustomerID string `json:"customerId"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &in); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		customers = append(customers, in.CustomerID)
		switch in.CustomerID {
		case "load-001":
			w.WriteHeader(http.StatusAccepted) // no Location
		case "load-002":
			http.Error(w, `{"title":"nope"}`, http.StatusServiceUnavailable)
		default:
			w.Header().Set("Location", "/api/orders/ord-"+in.CustomerID)
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"id":"not-read","status":"Pending","steps":[`+strings.Repeat(`{"x":1},`, 100)+`{}]}`)
		}
	}))
	defer srv.Close()
	a := newAppPlacer(srv.URL)

	id, err := a.post(context.Background(), a.bodies[0])
	if err != nil || id != "ord-load-000" {
		t.Errorf("post = %q, %v; want the ID in Location, ord-load-000", id, err)
	}
	if _, err := a.post(context.Background(), a.bodies[1]); err == nil || !strings.Contains(err.Error(), "Location") {
		t.Errorf("a 202 without Location: err %v, want one naming Location", err)
	}
	if _, err := a.post(context.Background(), a.bodies[2]); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503: err %v, want one with the status", err)
	}
	if strings.Join(customers, ",") != "load-000,load-001,load-002" {
		t.Errorf("bodies were for %v, want load-000..002", customers)
	}
}
