package authz

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAccessLogKeepsTheLastOnesInOrder(t *testing.T) {
	l := NewAccessLog(3, nil, map[string]string{"oid-1": "frontend"})
	ch, stop := l.Subscribe()
	defer stop()
	for _, op := range []string{"a", "b", "c", "d"} {
		l.Record(Access{PrincipalID: "oid-1", Operation: op})
	}
	got := l.Recent()
	if len(got) != 3 || got[0].Operation != "b" || got[2].Operation != "d" || got[0].Workload != "frontend" {
		t.Fatalf("recent = %+v", got)
	}
	if a := <-ch; a.Operation != "a" {
		t.Fatalf("subscriber got %+v first", a)
	}
	l.Record(Access{PrincipalID: "oid-unknown"})
	if w := l.Recent()[2].Workload; w != "oid-unknown" {
		t.Errorf("unknown principal shown as %q, want its object id", w)
	}
}

func TestCheckRecordsTheDecisionWithTheHTTPAnswer(t *testing.T) {
	l := NewAccessLog(10, nil, map[string]string{"oid-r": "reader"})
	p := NewPolicy([]Assignment{{PrincipalID: "oid-r", Role: StorageBlobDataReader, Scope: "storage/receipts"}}).WithAccessLog(l)
	h := ObserveHTTP("blob", l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read := p.Check(r.Context(), Request{Service: "blob", Operation: "ReadBlob", Scope: "storage/receipts",
			Principal: Principal{ObjectID: "oid-r"}, Roles: []string{StorageBlobDataReader, StorageBlobDataContributor}})
		write := p.Check(r.Context(), Request{Service: "blob", Operation: "WriteBlob", Scope: "storage/receipts",
			Principal: Principal{ObjectID: "oid-r"}, Roles: []string{StorageBlobDataContributor}})
		if read && !write {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/devstoreaccount1/receipts/x", nil))
	got := l.Recent()
	if len(got) != 2 {
		t.Fatalf("recorded %+v", got)
	}
	if got[0].Decision != Allowed || got[0].Role != StorageBlobDataReader || got[0].Status != 403 || got[0].Workload != "reader" {
		t.Errorf("read: %+v", got[0])
	}
	if got[1].Decision != Denied || got[1].Role != StorageBlobDataContributor || got[1].Status != 403 {
		t.Errorf("write: %+v", got[1])
	}
	// Without an HTTP request (Service Bus), the decision is recorded at once.
	p.Check(context.Background(), Request{Service: "servicebus", Operation: "Send", Scope: "servicebus/orders", Principal: Principal{ObjectID: "oid-r"}})
	if n := len(l.Recent()); n != 3 {
		t.Errorf("%d recorded, want 3", n)
	}
}

func TestObserveRecordsRefusedTokensOnly(t *testing.T) {
	l := NewAccessLog(10, nil, nil)
	h := ObserveHTTP("cosmos", l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/dbs", nil)) // a challenge: no token sent
	req := httptest.NewRequest("GET", "/dbs", nil)
	req.Header.Set("Authorization", "Bearer forged")
	h.ServeHTTP(httptest.NewRecorder(), req)
	got := l.Recent()
	if len(got) != 1 || got[0].Decision != Unauthenticated || got[0].Status != 401 || got[0].Service != "cosmos" {
		t.Fatalf("recorded %+v", got)
	}
}
