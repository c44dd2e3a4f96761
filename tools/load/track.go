package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// tracker follows placed orders until the backend has completed them.
type tracker struct {
	client *http.Client
	base   string
	res    *result

	mu      sync.Mutex
	pending map[string]struct{}
}

func newTracker(c *http.Client, base string, r *result) *tracker {
	return &tracker{client: c, base: base, res: r, pending: map[string]struct{}{}}
}

func (t *tracker) add(id string) {
	t.mu.Lock()
	t.pending[id] = struct{}{}
	t.mu.Unlock()
}

func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// loop checks every outstanding order once per interval with a few parallel GETs.
func (t *tracker) loop(ctx context.Context, every time.Duration) {
	for ctx.Err() == nil {
		t.mu.Lock()
		ids := make([]string, 0, len(t.pending))
		for id := range t.pending {
			ids = append(ids, id)
		}
		t.mu.Unlock()
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func(id string) {
				defer func() { <-sem; wg.Done() }()
				t.check(ctx, id)
			}(id)
		}
		wg.Wait()
		time.Sleep(every)
	}
}

func (t *tracker) check(ctx context.Context, id string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/api/orders/"+id, nil)
	resp, err := t.client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	var o orderView
	if json.NewDecoder(resp.Body).Decode(&o) != nil {
		return
	}
	switch o.Status {
	case "Completed":
		t.res.completed(o.UpdatedAt.Sub(o.CreatedAt))
	case "Failed":
		t.res.failed()
	default:
		return
	}
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}
