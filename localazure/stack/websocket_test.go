package stack_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"golang.org/x/net/websocket"

	"github.com/contoso/orderflow/localazure/servicebusemu"
)

// TestServiceBusOverWebSockets: a client using the WebSockets transport reaches the
// broker at the same SERVICEBUS_NAMESPACE address (wss://<host:port>/$servicebus/websocket).
func TestServiceBusOverWebSockets(t *testing.T) {
	ctx := testCtx(t)
	env := st.Env("frontend")
	ns := env["SERVICEBUS_NAMESPACE"]
	dial := func(ctx context.Context, args azservicebus.NewWebSocketConnArgs) (net.Conn, error) {
		cfg, err := websocket.NewConfig(args.Host, "https://"+ns+"/")
		if err != nil {
			return nil, err
		}
		cfg.TlsConfig = &tls.Config{RootCAs: st.CACertPool(), ServerName: "127.0.0.1"}
		cfg.Protocol = []string{"AMQPWSB10"}
		ws, err := websocket.DialConfig(cfg)
		if err != nil {
			return nil, err
		}
		ws.PayloadType = websocket.BinaryFrame
		return ws, nil
	}
	var host string
	c, err := azservicebus.NewClient(ns, credentialFromEnv(t, "frontend"), &azservicebus.ClientOptions{
		NewWebSocketConn: func(ctx context.Context, args azservicebus.NewWebSocketConnArgs) (net.Conn, error) {
			host = args.Host
			return dial(ctx, args)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	s, err := c.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("over websockets")}, nil); err != nil {
		t.Fatalf("send over WebSockets with the frontend's token: %v", err)
	}
	if want := "wss://" + ns + servicebusemu.WebSocketPath; host != want {
		t.Errorf("client dialed %q, want %q", host, want)
	}
	// Drain it with the backend over plain AMQPS on the same port.
	r, err := sbClient(t, "backend").NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := r.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "over websockets" {
		t.Fatalf("receive: %v %v", msgs, err)
	}
	r.CompleteMessage(ctx, msgs[0], nil)
}

// TestServiceBusWebSocketTrailingSlash: clients that dial
// wss://<namespace>/$servicebus/websocket/ (uamqp, .NET) reach the broker through
// the launcher's AMQPS port too.
func TestServiceBusWebSocketTrailingSlash(t *testing.T) {
	ns := st.Env("frontend")["SERVICEBUS_NAMESPACE"]
	cfg, err := websocket.NewConfig("wss://"+ns+servicebusemu.WebSocketPath+"/", "https://"+ns+"/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TlsConfig = &tls.Config{RootCAs: st.CACertPool(), ServerName: "127.0.0.1"}
	cfg.Protocol = []string{"AMQPWSB10"}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("upgrade at %s/: %v", servicebusemu.WebSocketPath, err)
	}
	defer ws.Close()
	ws.PayloadType = websocket.BinaryFrame
	ws.SetDeadline(time.Now().Add(5 * time.Second))
	// The AMQP protocol header goes out and comes back: the broker is on the other end.
	header := []byte("AMQP\x00\x01\x00\x00")
	if _, err := ws.Write(header); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(header))
	if _, err := io.ReadFull(ws, got); err != nil || !bytes.Equal(got, header) {
		t.Fatalf("protocol header over the WebSocket: %q %v", got, err)
	}
}
