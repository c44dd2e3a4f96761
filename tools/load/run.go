package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

type options struct {
	url         string
	rate        float64
	concurrency int
	duration    time.Duration
	orders      int
	customers   int
	settle      time.Duration
	poll        time.Duration
	pids        map[string]int
}

// orderView is the part of the frontend's order JSON the tool reads.
type orderView struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type product struct {
	ID string `json:"id"`
}

// run places orders until the duration or order count is reached, then waits up to
// o.settle for the outstanding ones, and returns the measurements.
func run(ctx context.Context, o options, progress io.Writer) (*result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}}
	products, err := fetchProducts(ctx, client, o.url)
	if err != nil {
		return nil, err
	}
	res := newResult()
	tr := newTracker(client, o.url, res)
	rssStop := watchRSS(o.pids, res)
	defer rssStop()

	placeCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var tick <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		tick = t.C
	}
	var sent sync.Mutex
	count := 0
	next := func() bool { // claims the next order slot, pacing by rate when set
		if tick != nil {
			select {
			case <-tick:
			case <-placeCtx.Done():
				return false
			}
		}
		sent.Lock()
		defer sent.Unlock()
		if placeCtx.Err() != nil || (o.orders > 0 && count >= o.orders) {
			return false
		}
		count++
		return true
	}

	go tr.loop(ctx, o.poll)
	go reportProgress(placeCtx, progress, res, tr)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for next() {
				body := orderBody(rng, products, o.customers)
				t0 := time.Now()
				// The parent context: an order already on the wire when placing
				// stops is let finish, not counted as an error.
				id, kind := placeOrder(ctx, client, o.url, body)
				res.placed(time.Since(t0), kind)
				if id != "" {
					tr.add(id)
				}
			}
		}(w)
	}
	wg.Wait()
	res.placing = time.Since(start)

	fmt.Fprintf(progress, "placing done; waiting up to %s for %d outstanding orders\n", o.settle, tr.outstanding())
	deadline := time.Now().Add(o.settle)
	for tr.outstanding() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(o.poll)
	}
	res.elapsed = time.Since(start)
	res.backlog = tr.outstanding()
	return res, nil
}

func fetchProducts(ctx context.Context, c *http.Client, base string) ([]product, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/products", nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the frontend running at %s? %w", base, err)
	}
	defer resp.Body.Close()
	var ps []product
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil || len(ps) == 0 {
		return nil, fmt.Errorf("GET /api/products: status %d, want a non-empty JSON array (%v)", resp.StatusCode, err)
	}
	return ps, nil
}

func orderBody(rng *rand.Rand, ps []product, customers int) []byte {
	type item struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	// Distinct products: the API refuses an order that names a product twice.
	n := min(1+rng.IntN(3), len(ps))
	items := make([]item, 0, n)
	for _, i := range rng.Perm(len(ps))[:n] {
		items = append(items, item{ProductID: ps[i].ID, Quantity: 1 + rng.IntN(5)})
	}
	b, _ := json.Marshal(map[string]any{"customerId": fmt.Sprintf("load-%03d", rng.IntN(customers)), "items": items})
	return b
}

// placeOrder posts one order and returns its ID, or "" and the kind of failure.
func placeOrder(ctx context.Context, c *http.Client, base string, body []byte) (id, kind string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/orders", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", "cancelled"
		}
		return "", "transport"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusCreated {
		io.Copy(io.Discard, resp.Body)
		return "", fmt.Sprintf("http %d", resp.StatusCode)
	}
	var o orderView
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || o.ID == "" {
		return "", "bad response"
	}
	return o.ID, ""
}

func reportProgress(ctx context.Context, w io.Writer, r *result, tr *tracker) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			acc, done := r.counts()
			fmt.Fprintf(w, "accepted %d, completed %d, outstanding %d\n", acc, done, tr.outstanding())
		}
	}
}
