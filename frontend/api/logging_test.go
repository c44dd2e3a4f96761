package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A placed order is one log line: the request's, carrying the order ID.
func TestPlacedOrderIsOneLogLine(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.postJSON("/api/orders", `{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":1}]}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var v struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.ID == "" {
		t.Fatalf("no order id: %v", err)
	}
	// The line is written before the handler chain returns, so before the small
	// answer leaves the server's buffer.
	var info []string
	for _, l := range strings.Split(f.log.String(), "\n") {
		if strings.Contains(l, "level=INFO") {
			info = append(info, l)
		}
	}
	if len(info) != 1 || !strings.Contains(info[0], "msg=request") || !strings.Contains(info[0], "order_id="+v.ID) || !strings.Contains(info[0], "status=202") {
		t.Fatalf("want one INFO line, the request's, with order_id=%s; got:\n%s", v.ID, strings.Join(info, "\n"))
	}
}
