package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// appPlacer posts orders to the frontend's API on the open-loop schedule.
type appPlacer struct {
	base    string
	client  *http.Client
	bodies  [customers][]byte // order bodies by customer, made once
	failure string            // the last step's last placement error; read once place returned
}

func newAppPlacer(base string) *appPlacer {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 512
	a := &appPlacer{base: base, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	for i := range a.bodies {
		a.bodies[i] = fmt.Appendf(nil, orderJSON, i)
	}
	return a
}

// customers is how many customers the orders spread over (their partition keys).
const customers = 50

// orderJSON is what the app's order body holds, the same two lines raw-frontend orders.
const orderJSON = `{"customerId":"load-%03d","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"filter-papers-100","quantity":1}]}`

func (a *appPlacer) place(ctx context.Context, step string, rate float64, n int) ([]due, int, error) {
	start := time.Now().Add(50 * time.Millisecond)
	var mu sync.Mutex
	placed := make([]due, 0, n)
	failed := 0
	schedule(ctx, start, rate, n, func(i int) {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		id, err := a.post(ctx, a.bodies[i%customers])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed++
			a.failure = err.Error()
			return
		}
		placed = append(placed, due{id: id, at: at})
	})
	return placed, failed, ctx.Err()
}

func (a *appPlacer) lastFailure() string { return a.failure }

// post places one order and returns its ID, read from the answer's Location
// (/api/orders/{id}), which the API sets on every 202. The body is drained unread, so
// the connection is reused: decoding the app's 1.2 KB answer would be load on the
// cores the stack shares that only the app's side pays (bare answers a few bytes,
// raw places in-process).
func (a *appPlacer) post(ctx context.Context, body []byte) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/orders", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("POST /api/orders: %d %s", resp.StatusCode, b)
	}
	loc := resp.Header.Get("Location")
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", fmt.Errorf("POST /api/orders: reading the answer: %w", err)
	}
	escaped, ok := strings.CutPrefix(loc, "/api/orders/")
	id, err := url.PathUnescape(escaped)
	if !ok || err != nil || id == "" || strings.Contains(escaped, "/") {
		return "", fmt.Errorf("POST /api/orders: 202 without the order's Location (got %q)", loc)
	}
	return id, nil
}

// rawPlacer asks raw-frontend to run a step and derives each order's due time from the
// step's start, as raw-frontend schedules them.
type rawPlacer struct {
	control string
	failure string // raw-frontend's last placement error
}

func (r *rawPlacer) place(ctx context.Context, step string, rate float64, n int) ([]due, int, error) {
	before, err := r.failed(ctx)
	if err != nil {
		return nil, 0, err
	}
	q := url.Values{"n": {strconv.Itoa(n)}, "rate": {strconv.FormatFloat(rate, 'f', -1, 64)}, "step": {step}}
	body, err := r.get(ctx, "/step?"+q.Encode())
	if err != nil {
		return nil, 0, err
	}
	ns, err := strconv.ParseInt(body, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("raw-frontend /step answered %q", body)
	}
	start := time.Unix(0, ns)
	placed := make([]due, n)
	for i := range n {
		placed[i] = due{id: fmt.Sprintf("raw-%s-%d", step, i), at: start.Add(time.Duration(float64(i) / rate * float64(time.Second)))}
	}
	// Placing takes the step's length; failures are counted by raw-frontend.
	select {
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case <-time.After(time.Until(placed[len(placed)-1].at)):
	}
	after, err := r.failed(ctx)
	if err != nil {
		return nil, 0, err
	}
	return placed, after - before, nil
}

// failed is raw-frontend's count of failed placements; its answer is the count, then
// the last failure's error on the next line.
func (r *rawPlacer) failed(ctx context.Context) (int, error) {
	b, err := r.get(ctx, "/failed")
	if err != nil {
		return 0, err
	}
	count, last, _ := strings.Cut(b, "\n")
	r.failure = last
	return strconv.Atoi(count)
}

func (r *rawPlacer) lastFailure() string { return r.failure }

func (r *rawPlacer) get(ctx context.Context, path string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.control+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("raw-frontend control: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("raw-frontend control %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b), nil
}
