package servicebusemu

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

// TestNothingAcceptedIsLost sends from several clients while receivers
// complete, abandon, or vanish without settling; every accepted message must be
// completed in the end, and the queue must end empty.
func TestNothingAcceptedIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for locks to expire")
	}
	tb := startBroker(t, func(o *Options) {
		ns := &o.Entities.Namespaces[0]
		ns.Queues = append(ns.Queues, QueueConfig{Name: "lossless", Properties: QueueProperties{LockDuration: "PT1S", MaxDeliveryCount: 1000}})
	})
	const senders, perSender = 4, 250
	ctx := ctxT(t, 60*time.Second)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tb.client(t)
			snd, _ := c.NewSender("lossless", nil)
			for i := range perSender {
				id := fmt.Sprintf("%d-%d", s, i)
				if err := snd.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(id)}, nil); err != nil {
					t.Errorf("send %s: %v", id, err)
					return
				}
			}
		}()
	}
	var mu sync.Mutex
	completed := map[string]bool{}
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(completed) == senders*perSender
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; !done() && ctx.Err() == nil; round++ {
				c, err := azservicebus.NewClientFromConnectionString(tb.connStr, nil)
				if err != nil {
					t.Error(err)
					return
				}
				r, _ := c.NewReceiverForQueue("lossless", nil)
				rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				msgs, _ := r.ReceiveMessages(rctx, 20, nil)
				cancel()
				for i, m := range msgs {
					switch {
					case w == 0 && round%3 == 0:
						// This receiver "crashes" every third round: nothing settled.
					case i%10 == 3:
						r.AbandonMessage(ctx, m, nil)
					default:
						if err := r.CompleteMessage(ctx, m, nil); err == nil {
							mu.Lock()
							completed[string(m.Body)] = true
							mu.Unlock()
						}
					}
				}
				c.Close(context.Background())
			}
		}()
	}
	wg.Wait()
	if !done() {
		t.Fatalf("completed %d of %d", len(completed), senders*perSender)
	}
	if n, _ := tb.MessageCount("lossless"); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}
