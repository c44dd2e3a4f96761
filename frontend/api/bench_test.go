package api

import (
	"context"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// sdkClock accumulates the time spent inside the store and publisher calls of one
// request, so that the frontend's own share (routing, decoding, validation, encoding,
// logging) is the request's time minus it. With the in-memory fakes the calls cost
// next to nothing, which is right for comparing tracing settings with each other
// (BenchmarkPlaceOrderTracing) and wrong for the frontend's cost against the real
// calls: that is BenchmarkPlaceOrderOverStack in frontend/e2e, and the pipeline's
// frontend CPU against its raw loop (make bench-pipeline).
type sdkClock struct{ spent time.Duration }

func (c *sdkClock) time(f func() error) error {
	t0 := time.Now()
	err := f()
	c.spent += time.Since(t0)
	return err
}

type timedOrders struct {
	orders.OrderStore
	clock *sdkClock
}

func (s timedOrders) Create(ctx context.Context, o *orders.Order) error {
	return s.clock.time(func() error { return s.OrderStore.Create(ctx, o) })
}

func (s timedOrders) MarkPublished(ctx context.Context, o *orders.Order) error {
	return s.clock.time(func() error { return s.OrderStore.MarkPublished(ctx, o) })
}

type timedPublisher struct {
	orders.Publisher
	clock *sdkClock
}

func (p timedPublisher) PublishOrderPlaced(ctx context.Context, o *orders.Order) error {
	return p.clock.time(func() error { return p.Publisher.PublishOrderPlaced(ctx, o) })
}
