package api

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/contoso/orderflow/frontend/hub"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/telemetry"
)

// sseFrame is one parsed Server-Sent Events frame (or comment).
type sseFrame struct {
	event, data, comment string
}

// openSSE connects to path and returns the frames as they arrive; the channel
// closes when the server ends the stream.
func openSSE(t *testing.T, f *fixture, path string) (<-chan sseFrame, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.http.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ch := make(chan sseFrame, 32)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var fr sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if fr != (sseFrame{}) {
					ch <- fr
				}
				fr = sseFrame{}
			case strings.HasPrefix(line, ":"):
				fr.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				fr.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				fr.data = line[len("data: "):]
			}
		}
	}()
	return ch, resp
}

// nextStatus waits for the next "status" event, skipping comments and retry frames.
func nextStatus(t *testing.T, ch <-chan sseFrame, within time.Duration) (hub.StatusEvent, bool) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case fr, ok := <-ch:
			if !ok {
				return hub.StatusEvent{}, false
			}
			if fr.event != "status" {
				continue
			}
			var ev hub.StatusEvent
			if err := json.Unmarshal([]byte(fr.data), &ev); err != nil {
				t.Fatalf("status data %q: %v", fr.data, err)
			}
			return ev, true
		case <-timeout:
			t.Fatalf("no status event within %v", within)
		}
	}
}

func waitSubscribers(t *testing.T, h *hub.Hub, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Subscribers(id) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers of %s, want %d", h.Subscribers(id), id, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventsDeliverTopicEvent runs under both request tracings (requestTracing):
// otelhttp's wrapped writer, and the bare context of a process without an exporter;
// the stream's hand-over must work through either.
func TestEventsDeliverTopicEvent(t *testing.T) {
	for name, tp := range map[string]trace.TracerProvider{"otelhttp": nil, "propagate-only": telemetry.PropagatingProvider()} {
		t.Run(name, func(t *testing.T) { testEventsDeliverTopicEvent(t, tp) })
	}
}

func testEventsDeliverTopicEvent(t *testing.T, tp trace.TracerProvider) {
	// A long poll interval shows the Completed event comes through the hub.
	f := newFixtureTracedBy(t, Limits{Poll: time.Hour, Heartbeat: time.Hour}, tp)
	o := f.seedOrder("c-1", time.Now())
	ch, resp := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	ev, ok := nextStatus(t, ch, 5*time.Second)
	if !ok || ev.Status != "Pending" || ev.OrderID != o.ID {
		t.Fatalf("first event %+v, want the current status Pending", ev)
	}
	waitSubscribers(t, f.hub, o.ID, 1)

	completed, err := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: o.ID, IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.hub.PublishEvent(context.Background(), completed); err != nil || n != 1 {
		t.Fatalf("PublishEvent = %d, %v", n, err)
	}
	ev, ok = nextStatus(t, ch, 5*time.Second)
	if !ok || ev.Status != "Completed" {
		t.Fatalf("event %+v, want Completed", ev)
	}
	// The stream ends after a terminal status, and the subscription is released.
	if _, ok := nextStatus(t, ch, 5*time.Second); ok {
		t.Error("stream continued after Completed")
	}
	waitSubscribers(t, f.hub, o.ID, 0)
}

func TestEventsLateClientSeesCompleted(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	f.complete(o)
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	ev, ok := nextStatus(t, ch, 5*time.Second)
	if !ok || ev.Status != "Completed" {
		t.Fatalf("event %+v, want Completed on connect", ev)
	}
	if _, ok := nextStatus(t, ch, 5*time.Second); ok {
		t.Error("stream continued after Completed")
	}
}

func TestEventsPollFallback(t *testing.T) {
	// No topic event at all: another replica's subscription got it. The poll of
	// the store must still bring the page to Completed.
	f := newFixture(t, Limits{Poll: 50 * time.Millisecond, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	if ev, _ := nextStatus(t, ch, 5*time.Second); ev.Status != "Pending" {
		t.Fatalf("first event %+v", ev)
	}
	f.complete(o)
	ev, ok := nextStatus(t, ch, 5*time.Second)
	if !ok || ev.Status != "Completed" {
		t.Fatalf("event %+v, want Completed from the poll", ev)
	}
}

func TestEventsFailedCarriesReason(t *testing.T) {
	f := newFixture(t, Limits{Poll: 50 * time.Millisecond, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	nextStatus(t, ch, 5*time.Second)
	cur, _ := f.orders.Get(context.Background(), o.ID)
	if err := f.orders.MarkFailed(context.Background(), cur, "product discontinued"); err != nil {
		t.Fatal(err)
	}
	ev, ok := nextStatus(t, ch, 5*time.Second)
	if !ok || ev.Status != "Failed" || ev.Reason != "product discontinued" {
		t.Fatalf("event %+v", ev)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: 20 * time.Millisecond})
	o := f.seedOrder("c-1", time.Now())
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	timeout := time.After(5 * time.Second)
	for {
		select {
		case fr := <-ch:
			if fr.comment == "heartbeat" {
				return
			}
		case <-timeout:
			t.Fatal("no heartbeat comment")
		}
	}
}

func TestEventsClosedOnShutdown(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	nextStatus(t, ch, 5*time.Second)
	waitSubscribers(t, f.hub, o.ID, 1)
	f.hub.Close()
	timeout := time.After(5 * time.Second)
	sawShutdown := false
	for {
		select {
		case fr, ok := <-ch:
			if !ok {
				if !sawShutdown {
					t.Error("stream ended without a shutdown event")
				}
				return
			}
			if fr.event == "shutdown" {
				sawShutdown = true
			}
		case <-timeout:
			t.Fatal("stream still open after the hub closed")
		}
	}
}

func TestEventsUnknownOrder(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.do(http.MethodGet, "/api/orders/missing/events", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	decodeProblem(t, resp)
	if n := f.hub.Subscribers("missing"); n != 0 {
		t.Errorf("%d subscriptions left behind", n)
	}
}

func TestPublishEventIgnoresOtherTypes(t *testing.T) {
	h := hub.NewHub()
	o := &orders.Order{ID: "o-1", CustomerID: "c"}
	placed, err := orders.NewOrderPlacedEvent(o, "/test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.PublishEvent(context.Background(), placed); orders.ErrorCode(err) != orders.EUNSUPPORTED {
		t.Errorf("PublishEvent(OrderPlaced) error %v, want EUNSUPPORTED", err)
	}
}
