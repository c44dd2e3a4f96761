package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/fault"
)

// TestInvariantsUnderFaults places orders while localazure injects one kind of
// failure at a time, as Azure produces them, and then checks the invariants that
// make the app safe to run: every order the frontend accepted (202) is stored and
// reaches Completed, every attachment it accepted (201) is on the order, and every
// receipt verifies and matches its order. A failed request (5xx) is allowed while a
// fault lasts; a lost or stuck order is not. (Key Vault and Entra ID faults are not
// here: both services cache the signing key and their tokens, so a short fault
// meets no request; the labs show them on a refresh.)
func TestInvariantsUnderFaults(t *testing.T) {
	requireStack(t)
	cases := []struct {
		name  string
		rules []fault.Rule
	}{
		{"cosmos writes throttled", []fault.Rule{{Service: "cosmos", Operation: "write", Fault: "throttle", Rate: 0.3, RetryAfter: "100ms", For: "3s"}}},
		{"cosmos unavailable at times", []fault.Rule{{Service: "cosmos", Fault: "unavailable", Rate: 0.2, For: "3s"}}},
		// Every receipt write fails for 2 s, not a share of them: with a handful of
		// orders a rate could by chance fail none, and the case would prove nothing.
		{"receipt writes fail", []fault.Rule{{Service: "blob", Operation: "write", Path: "/receipts/", Fault: "unavailable", For: "2s"}}},
		{"slow attachments", []fault.Rule{{Service: "blob", Path: "/attachments/", Fault: "latency", Latency: "500ms", For: "3s"}}},
		{"service bus connections dropped", []fault.Rule{{Service: "servicebus", Fault: "drop-connections", Every: "1s", For: "3s"}}},
		{"locks lost mid-processing", []fault.Rule{
			{Service: "blob", Operation: "write", Path: "/receipts/", Fault: "latency", Latency: "700ms", For: "3s"},
			{Service: "servicebus", Fault: "lose-locks", Every: "400ms", For: "3s"},
		}},
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := env.stack.Faults().Set("runtime", c.rules); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.stack.Faults().Set("runtime", nil) })
			var mu sync.Mutex
			accepted := map[string]string{} // order id -> attachment name that got 201 ("" if none)
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Go(func() {
					id, ok := postOrder(hc, env.frontendURL, fmt.Sprintf("fault-%d", time.Now().UnixNano()), i)
					if !ok {
						return // refused while the fault lasted: allowed, and nothing to check
					}
					name := ""
					if uploadNote(hc, env.frontendURL, id, fmt.Sprintf("n%d.txt", i)) {
						name = fmt.Sprintf("n%d.txt", i)
					}
					mu.Lock()
					accepted[id] = name
					mu.Unlock()
				})
				time.Sleep(300 * time.Millisecond) // spread over the fault's window
			}
			wg.Wait()
			time.Sleep(time.Second) // let the backend meet the fault too
			fired := env.stack.Faults().Fired("runtime")
			_ = env.stack.Faults().Set("runtime", nil)
			if fired == 0 {
				t.Fatal("the fault never fired: the test would prove nothing")
			}
			t.Logf("the fault acted %d times", fired)
			if len(accepted) == 0 {
				t.Fatal("no order was accepted: the fault is too strong to show anything")
			}
			checkInvariants(t, hc, accepted, 45*time.Second)
		})
	}
}

// checkInvariants waits up to within for every accepted order to complete, then
// checks its attachment and receipt.
func checkInvariants(t *testing.T, hc *http.Client, accepted map[string]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	done := map[string]order{}
	for len(done) < len(accepted) && time.Now().Before(deadline) {
		for id := range accepted {
			if _, ok := done[id]; ok {
				continue
			}
			var o order
			switch code := getFrom(hc, env.frontendURL+"/api/orders/"+id, &o); {
			case code == http.StatusNotFound:
				t.Errorf("order %s got 202 but does not exist", id)
				done[id] = o
			case code == http.StatusOK && o.Status == "Completed":
				done[id] = o
			case code == http.StatusOK && o.Status == "Failed":
				t.Errorf("order %s failed: %+v", id, o)
				done[id] = o
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	for id, name := range accepted {
		o, ok := done[id]
		if !ok {
			t.Errorf("order %s not Completed %s after the fault ended", id, within)
			continue
		}
		if name != "" {
			found := false
			for _, a := range o.Attachments {
				found = found || a.Name == name
			}
			if !found {
				t.Errorf("order %s: attachment %s got 201 but is missing: %+v", id, name, o.Attachments)
			}
		}
		var receipt struct {
			Receipt struct {
				OrderID string `json:"orderId"`
				Total   int64  `json:"total"`
			} `json:"receipt"`
			Verified bool `json:"verified"`
		}
		if code := getFrom(hc, env.frontendURL+"/api/orders/"+id+"/receipt", &receipt); code != http.StatusOK || !receipt.Verified ||
			receipt.Receipt.OrderID != id || receipt.Receipt.Total != o.Total {
			t.Errorf("receipt of %s: status %d %+v (order total %d)", id, code, receipt, o.Total)
		}
	}
	// Each OrderCompleted reached the frontend's event feed too (the subscription
	// keeps it until the feed takes it, so a fault may delay it but not lose it).
	for id := range accepted {
		for !strings.Contains(env.logs.String(), `"event_id":"`+id+`-completed"`) {
			if time.Now().After(deadline) {
				t.Errorf("order %s: its OrderCompleted never reached the frontend's feed", id)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("%d orders accepted under the fault, all checked", len(accepted))
}
