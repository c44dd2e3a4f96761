package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

func TestDeliveryRetryBound(t *testing.T) {
	created := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	r := Reconcile{MinAge: 60 * time.Second, Interval: 30 * time.Second}
	pending := &orders.Order{Status: orders.StatusPending, CreatedAt: created}

	// The bound is MIN_AGE + INTERVAL after creation, not the interval alone.
	d := r.delivery(pending, created.Add(10*time.Second))
	if d.Sent || d.RetryBy == nil || !d.RetryBy.Equal(created.Add(90*time.Second)) || d.Overdue {
		t.Errorf("unsent, young: %+v", d)
	}
	if d := r.delivery(pending, created.Add(91*time.Second)); !d.Overdue || d.Sent {
		t.Errorf("unsent past the bound: %+v, want overdue", d)
	}
	if d := (Reconcile{MinAge: time.Minute}).delivery(pending, created); d.Sent || d.RetryBy != nil {
		t.Errorf("reconciler disabled: %+v, want no retryBy", d)
	}

	at := created.Add(time.Second)
	sent := &orders.Order{Status: orders.StatusPending, CreatedAt: created, Published: true, PublishedAt: &at}
	if d := r.delivery(sent, created.Add(time.Hour)); !d.Sent || d.SentAt == nil || !d.SentAt.Equal(at) || d.RetryBy != nil || d.Overdue {
		t.Errorf("sent: %+v", d)
	}
	// MarkPublished may fail after the send; a completed order proves the send.
	done := &orders.Order{Status: orders.StatusCompleted, CreatedAt: created}
	if d := r.delivery(done, created.Add(time.Hour)); !d.Sent || d.RetryBy != nil {
		t.Errorf("completed without the flag: %+v", d)
	}
}

func TestStepsSayWhoDidWhat(t *testing.T) {
	created := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	o := &orders.Order{Status: orders.StatusCompleted, CreatedAt: created, UpdatedAt: created.Add(2 * time.Second),
		Published: true, ReceiptKeyVersion: "3f1c0ffee"}
	steps := stepsOf(o, Reconcile{}.delivery(o, created))
	var got []string
	for _, s := range steps {
		got = append(got, s.Step+"/"+s.By)
		if !s.Done || s.Attribution != "design" {
			t.Errorf("step %+v: want done, attributed by design", s)
		}
	}
	if strings.Join(got, " ") != "stored/frontend sent/frontend receipt/backend completed/backend" {
		t.Errorf("steps %v", got)
	}
	if !strings.Contains(steps[2].Detail, "3f1c0ffee") || !steps[3].At.Equal(o.UpdatedAt) {
		t.Errorf("receipt %+v completed %+v", steps[2], steps[3])
	}

	failed := &orders.Order{Status: orders.StatusFailed, FailureReason: "product gone", CreatedAt: created, Published: true}
	steps = stepsOf(failed, Reconcile{}.delivery(failed, created))
	if len(steps) != 3 || steps[2].Step != "failed" || steps[2].By != "backend" || !strings.Contains(steps[2].Detail, "product gone") {
		t.Errorf("failed order steps %+v", steps)
	}
	pending := &orders.Order{Status: orders.StatusPending, CreatedAt: created}
	steps = stepsOf(pending, Reconcile{}.delivery(pending, created))
	if !steps[0].Done || steps[1].Done || steps[2].Done || steps[3].Done {
		t.Errorf("pending, unsent: %+v", steps)
	}
}

// Lab 3's trip through the API: the send fails, the order is stored, and both the
// 202 and a later GET say it is not sent yet and when the reconciler retries.
func TestOrderViewDeliveryWhenSendFails(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	pub := orderstest.NewPublisher()
	pub.Fail = func(string) error { return orders.Errorf(orders.EUNAVAILABLE, "Service Bus is down.") }
	store := orderstest.NewOrders()
	srv := NewServer(Deps{Orders: store, Publisher: pub, Now: func() time.Time { return now },
		Reconcile: Reconcile{MinAge: 60 * time.Second, Interval: 30 * time.Second}}, Limits{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(`{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":1}]}`))
	req.Header.Set("Content-Type", "application/json")
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	var placed struct {
		ID       string
		Delivery struct {
			Sent    bool      `json:"sent"`
			RetryBy time.Time `json:"retryBy"`
		} `json:"delivery"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &placed); err != nil {
		t.Fatal(err)
	}
	want := now.Add(90 * time.Second)
	if placed.Delivery.Sent || !placed.Delivery.RetryBy.Equal(want) {
		t.Errorf("202 delivery %+v, want unsent, retryBy %v", placed.Delivery, want)
	}

	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/"+placed.ID, nil))
	body := rec.Body.String()
	if !strings.Contains(body, `"delivery":{"sent":false,"retryBy":"2030-01-01T12:01:30Z"}`) {
		t.Errorf("GET body lacks the delivery hint: %s", body)
	}
	if strings.Contains(body, `"published"`) {
		t.Errorf("the outbox flag itself leaked: %s", body)
	}
}
