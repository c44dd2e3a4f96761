package servicebus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// TestManyClients runs 200 azservicebus clients, each with its own connection,
// a sender and a receiver, all at once.
func TestManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("200 connections")
	}
	tb := startBroker(t, nil)
	const n = 200
	ctx := ctxT(t, 60*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := azservicebus.NewClientFromConnectionString(tb.connStr, nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(context.Background())
			s, err := c.NewSender("bench", nil)
			if err != nil {
				errs <- err
				return
			}
			if err := s.SendMessage(ctx, body(fmt.Sprint(i)), nil); err != nil {
				errs <- fmt.Errorf("client %d send: %w", i, err)
				return
			}
			r, err := c.NewReceiverForQueue("bench", nil)
			if err != nil {
				errs <- err
				return
			}
			msgs, err := r.ReceiveMessages(ctx, 1, nil)
			if err != nil || len(msgs) != 1 {
				errs <- fmt.Errorf("client %d receive: %v (%d)", i, err, len(msgs))
				return
			}
			if err := r.CompleteMessage(ctx, msgs[0], nil); err != nil {
				errs <- fmt.Errorf("client %d complete: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if left, _ := tb.MessageCount("bench"); left != 0 {
		t.Fatalf("%d messages left", left)
	}
}
