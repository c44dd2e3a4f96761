package main

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/frontend/api"
	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// TestShutdownEndsStreamsAndDrains checks the SIGTERM path: readiness fails,
// open SSE streams end with a shutdown event (http.Server.Shutdown alone would
// wait for them until the deadline), in-flight requests finish, and the whole
// drain takes far less than the timeout.
func TestShutdownEndsStreamsAndDrains(t *testing.T) {
	store := orderstest.NewOrders()
	o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}, orders.DefaultCatalog(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	hub := hub.NewHub()
	log := slog.New(slog.DiscardHandler)
	server := api.NewServer(api.Deps{Orders: store, Hub: hub, Logger: log}, api.Limits{Heartbeat: time.Hour, Poll: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpServer := &http.Server{Handler: server}
	go httpServer.Serve(ln)
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/api/orders/" + o.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine(t, lines, "event: status")

	start := time.Now()
	const timeout = 10 * time.Second
	done := make(chan struct{})
	go func() {
		shutdown(log, server, hub, httpServer, timeout, func(string) string { return "" })
		close(done)
	}()
	waitLine(t, lines, "event: shutdown")
	for range lines {
		// The stream must end: the channel closes when the body does.
	}
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal("shutdown did not return")
	}
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("shutdown took %v; the open stream held it up", d)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestShutdownFailsReadinessFirst(t *testing.T) {
	server := api.NewServer(api.Deps{}, api.Limits{})
	server.BeginDrain()
	rec := httptest.NewRecorder()
	server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d", rec.Code)
	}
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q", want)
			}
			if strings.HasPrefix(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 5s", want)
		}
	}
}
