package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// order is the part of the API's order representation the tests read.
type order struct {
	ID          string `json:"id"`
	CustomerID  string `json:"customerId"`
	Status      string `json:"status"`
	Total       int64  `json:"total"`
	Attachments []struct {
		Name        string `json:"name"`
		ContentType string `json:"contentType"`
		Size        int64  `json:"size"`
	} `json:"attachments"`
}

func postJSON(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(env.frontendURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return &http.Response{}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func getJSON(t *testing.T, path string, dst any) int {
	t.Helper()
	resp, err := http.Get(env.frontendURL + path)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && dst != nil {
		if err := json.Unmarshal(b, dst); err != nil {
			t.Errorf("GET %s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func upload(t *testing.T, orderID, name, contentType string, content []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", contentType)
	part, _ := mw.CreatePart(h)
	part.Write(content)
	mw.Close()
	resp, err := http.Post(env.frontendURL+"/api/orders/"+orderID+"/attachments", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Errorf("upload: %v", err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// watchStatus opens the order's SSE stream and returns the statuses as they arrive.
func watchStatus(ctx context.Context, t *testing.T, orderID string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.frontendURL+"/api/orders/"+orderID+"/events", nil)
	ch := make(chan string, 8)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("events of %s: %v %v", orderID, err, resp)
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "status":
				var ev struct {
					Status string `json:"status"`
				}
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
					ch <- ev.Status
				}
			case line == "":
				event = ""
			}
		}
	}()
	return ch
}

func TestOrdersCompleteWithVerifiedReceipts(t *testing.T) {
	requireStack(t)
	const n = 5
	customer := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ids := make([]string, n)
	// Goroutines rather than parallel subtests, so all orders are in flight
	// together whatever -parallel is; the helpers report with t.Errorf only.
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { placeAndFollow(ctx, t, customer, i, ids) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Each OrderCompleted also came through the frontend's subscription on the
	// order-events topic (not only the SSE handler's store poll): the event
	// feed logs every event it fans out.
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range ids {
		for !strings.Contains(env.logs.String(), `"event_id":"`+id+`-completed"`) {
			if time.Now().After(deadline) {
				t.Errorf("order %s: no OrderCompleted received from the order-events subscription", id)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The customer's list pages through all of them, newest first.
	seen := map[string]bool{}
	path := "/api/customers/" + customer + "/orders?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		var page struct {
			Orders []order `json:"orders"`
			Next   string  `json:"next"`
		}
		if code := getJSON(t, path, &page); code != http.StatusOK {
			t.Fatalf("%s: status %d", path, code)
		}
		for _, o := range page.Orders {
			seen[o.ID] = true
		}
		path = page.Next
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("order %s missing from the customer's pages", id)
		}
	}
}

func TestInvalidOrderAndAttachmentProblems(t *testing.T) {
	requireStack(t)
	resp, b := postJSON(t, "/api/orders", `{"customerId":"e2e","items":[{"productId":"mug-ceramic","quantity":0}],"extra":1}`)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if !strings.Contains(string(b), `"field":"extra"`) {
		t.Errorf("problem does not name the unknown field: %s", b)
	}

	resp, b = postJSON(t, "/api/orders", `{"customerId":"e2e-problems","items":[{"productId":"mug-ceramic","quantity":1}]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var o order
	_ = json.Unmarshal(b, &o)
	if code, b := upload(t, o.ID, "tool.sh", "application/x-sh", []byte("#!/bin/sh\n")); code != http.StatusUnsupportedMediaType {
		t.Errorf("disallowed type: status %d: %s", code, b)
	}
	if code, b := upload(t, o.ID, "big.txt", "text/plain", bytes.Repeat([]byte("a"), 10<<20+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized attachment: status %d: %s", code, b)
	}
	var missing struct{}
	if code := getJSON(t, "/api/orders/does-not-exist/receipt", &missing); code != http.StatusNotFound {
		t.Errorf("receipt of a missing order: status %d", code)
	}
}

func TestIdentityPanelShowsWorkloadIdentity(t *testing.T) {
	requireStack(t)
	var id struct {
		ClientID string `json:"clientId"`
		Token    *struct {
			Issuer  string `json:"issuer"`
			Subject string `json:"subject"`
		} `json:"token"`
		Dependencies []struct {
			Name      string `json:"name"`
			Reachable bool   `json:"reachable"`
			Error     string `json:"error"`
		} `json:"dependencies"`
	}
	if code := getJSON(t, "/api/identity", &id); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if id.ClientID == "" || id.Token == nil || id.Token.Subject != "system:serviceaccount:orderflow:frontend" || id.Token.Issuer == "" {
		t.Errorf("identity %+v token %+v", id, id.Token)
	}
	if len(id.Dependencies) < 5 {
		t.Errorf("dependencies %+v", id.Dependencies)
	}
	for _, d := range id.Dependencies {
		if !d.Reachable {
			t.Errorf("%s not reachable: %s", d.Name, d.Error)
		}
	}
}

// placeAndFollow places order i of customer with an attachment, follows its SSE
// stream to Completed and checks the receipt verifies.
func placeAndFollow(ctx context.Context, t *testing.T, customer string, i int, ids []string) {
	body := fmt.Sprintf(`{"customerId":%q,"items":[{"productId":"mug-ceramic","quantity":%d},{"productId":"filter-papers-100","quantity":1}],"note":"e2e order %d"}`, customer, i+1, i)
	resp, b := postJSON(t, "/api/orders", body)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("order %d: status %d: %s", i, resp.StatusCode, b)
		return
	}
	var o order
	if err := json.Unmarshal(b, &o); err != nil || o.Status != "Pending" {
		t.Errorf("order %d: %s (%v)", i, b, err)
		return
	}
	ids[i] = o.ID
	// Subscribe right away: depending on timing the first status is
	// Pending or already Completed; either way Completed must arrive.
	statuses := watchStatus(ctx, t, o.ID)
	content := []byte(fmt.Sprintf("Delivery note for order %d.\n", i))
	if code, b := upload(t, o.ID, fmt.Sprintf("note-%d.txt", i), "text/plain", content); code != http.StatusCreated {
		t.Errorf("order %d attachment: status %d: %s", i, code, b)
	}
	sawCompleted := false
	for s := range statuses {
		if s == "Completed" {
			sawCompleted = true
			break
		}
		if s == "Failed" {
			t.Errorf("order %d failed", i)
			return
		}
	}
	if !sawCompleted {
		t.Errorf("order %s: the SSE stream ended without Completed", o.ID)
		return
	}

	var receipt struct {
		Receipt struct {
			OrderID string `json:"orderId"`
			Total   int64  `json:"total"`
		} `json:"receipt"`
		Verified   bool   `json:"verified"`
		KeyVersion string `json:"keyVersion"`
	}
	if code := getJSON(t, "/api/orders/"+o.ID+"/receipt", &receipt); code != http.StatusOK {
		t.Errorf("receipt of %s: status %d", o.ID, code)
		return
	}
	if !receipt.Verified || receipt.KeyVersion == "" || receipt.Receipt.OrderID != o.ID || receipt.Receipt.Total != o.Total {
		t.Errorf("receipt of %s: %+v (order total %d)", o.ID, receipt, o.Total)
	}
	var got order
	getJSON(t, "/api/orders/"+o.ID, &got)
	if got.Status != "Completed" || len(got.Attachments) != 1 || got.Attachments[0].Size != int64(len(content)) {
		t.Errorf("order %s after completion: %+v", o.ID, got)
	}
}
