package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/orders"
)

// tracker records when each order's OrderCompleted reached the tracker subscription.
type tracker struct {
	mu   sync.Mutex
	done map[string]time.Time
}

// startTracker receives from the tracker subscription as the frontend's identity, in
// receive-and-delete mode (one transfer per event, no settlement round trip).
func startTracker(ctx context.Context, env map[string]string) (*tracker, error) {
	tlsConfig, err := busTLS(env["SSL_CERT_FILE"])
	if err != nil {
		return nil, err
	}
	cred, err := newCredential(func(k string) string { return env[k] }, azcore.ClientOptions{Transport: azure.NewHTTPClient(tlsConfig)})
	if err != nil {
		return nil, err
	}
	c, err := azservicebus.NewClient(env["SERVICEBUS_NAMESPACE"], cred, &azservicebus.ClientOptions{TLSConfig: tlsConfig})
	if err != nil {
		return nil, fmt.Errorf("tracker client: %w", err)
	}
	r, err := c.NewReceiverForSubscription(env["EVENTS_TOPIC"], trackerSubscription, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if err != nil {
		return nil, fmt.Errorf("tracker receiver: %w", err)
	}
	t := &tracker{done: map[string]time.Time{}}
	// One peek first (it answers at once, even on an empty subscription), so a missing
	// role fails the run now rather than as "nothing completes".
	probe, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = r.PeekMessages(probe, 1, nil)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tracker receive from %s/%s: %w", env["EVENTS_TOPIC"], trackerSubscription, err)
	}
	go func() {
		defer c.Close(context.Background())
		var lastWarn time.Time
		for ctx.Err() == nil {
			// In receive-and-delete mode the SDK waits 1 s after the first message for
			// more (ReceiveMessagesOptions.TimeAfterFirstMessage); that would be a
			// second of latency the system did not have.
			msgs, err := r.ReceiveMessages(ctx, 256, &azservicebus.ReceiveMessagesOptions{TimeAfterFirstMessage: 5 * time.Millisecond})
			now := time.Now()
			if err != nil {
				if ctx.Err() == nil && now.Sub(lastWarn) > 5*time.Second {
					lastWarn = now
					slog.Warn("tracker receive failed; retrying", "err", err)
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			t.mu.Lock()
			for _, m := range msgs {
				ev, err := orders.DecodeEvent(m.Body)
				if err != nil {
					continue
				}
				if d, err := ev.OrderCompleted(); err == nil {
					if _, seen := t.done[d.OrderID]; !seen {
						t.done[d.OrderID] = now
					}
				}
			}
			t.mu.Unlock()
		}
	}()
	return t, nil
}

// completedAt returns when id completed, if it has.
func (t *tracker) completedAt(id string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.done[id]
	return at, ok
}
