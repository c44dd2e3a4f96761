package servicebusemu

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"golang.org/x/net/websocket"
)

func TestAMQPOverWebSockets(t *testing.T) {
	tb := startBroker(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(WebSocketPath, tb.WebSocketHandler())
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	dial := func(ctx context.Context, args azservicebus.NewWebSocketConnArgs) (net.Conn, error) {
		// The client asks for wss://<namespace>/$servicebus/websocket; the test
		// server speaks plain ws on loopback.
		cfg, err := websocket.NewConfig("ws://"+ln.Addr().String()+WebSocketPath, "http://localhost/")
		if err != nil {
			return nil, err
		}
		cfg.Protocol = []string{"AMQPWSB10"}
		ws, err := websocket.DialConfig(cfg)
		if err != nil {
			return nil, err
		}
		ws.PayloadType = websocket.BinaryFrame
		return ws, nil
	}
	c, err := azservicebus.NewClientFromConnectionString(tb.connStr, &azservicebus.ClientOptions{NewWebSocketConn: dial})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	send(t, c, "orders", body("over websockets"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "over websockets" {
		t.Fatalf("got %q", m.Body)
	}
	if err := r.CompleteMessage(ctxT(t, 5*time.Second), m, nil); err != nil {
		t.Fatal(err)
	}

	// Without the AMQP subprotocol the upgrade is refused.
	cfg, _ := websocket.NewConfig("ws://"+ln.Addr().String()+WebSocketPath, "http://localhost/")
	if _, err := websocket.DialConfig(cfg); err == nil {
		t.Fatal("upgrade without AMQPWSB10 accepted")
	}
}

// TestWebSocketPathWithTrailingSlash: uamqp (Python azure-servicebus 7.x, its
// DEFAULT_WS_RELATIVE_PATH) and the .NET client dial /$servicebus/websocket/;
// Service Bus serves both spellings, and nothing else below them.
func TestWebSocketPathWithTrailingSlash(t *testing.T) {
	tb := startBroker(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	tb.HandleWebSocket(mux)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "ws://" + ln.Addr().String()

	for _, path := range []string{WebSocketPath + "/", WebSocketPath} {
		dial := func(ctx context.Context, args azservicebus.NewWebSocketConnArgs) (net.Conn, error) {
			cfg, err := websocket.NewConfig(base+path, "http://localhost/")
			if err != nil {
				return nil, err
			}
			cfg.Protocol = []string{"AMQPWSB10"}
			ws, err := websocket.DialConfig(cfg)
			if err != nil {
				return nil, err
			}
			ws.PayloadType = websocket.BinaryFrame
			return ws, nil
		}
		c, err := azservicebus.NewClientFromConnectionString(tb.connStr, &azservicebus.ClientOptions{NewWebSocketConn: dial})
		if err != nil {
			t.Fatal(err)
		}
		send(t, c, "orders", body("via "+path))
		r, _ := c.NewReceiverForQueue("orders", nil)
		if m := receiveN(t, r, 1)[0]; string(m.Body) != "via "+path {
			t.Fatalf("%s: got %q", path, m.Body)
		}
		c.Close(context.Background())
	}
	for _, path := range []string{WebSocketPath + "/other", WebSocketPath + "x", "/"} {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	// The handler alone, mounted at "/", serves only the two spellings too.
	rec := httptest.NewRecorder()
	tb.WebSocketHandler().ServeHTTP(rec, httptest.NewRequest("GET", WebSocketPath+"/deeper", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("handler at %s/deeper: %d, want 404", WebSocketPath, rec.Code)
	}
}
