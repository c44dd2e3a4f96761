package servicebusemu

import (
	"fmt"
	"net"
	"net/http"
	"slices"

	"golang.org/x/net/websocket"
)

// WebSocketPath is where Service Bus serves AMQP over WebSockets
// (wss://<namespace>/$servicebus/websocket, port 443). Service Bus serves it with a
// trailing slash too, which the .NET (Microsoft.Azure.Amqp) and Python (pyamqp)
// clients send: WebSocketHandler answers both.
const WebSocketPath = "/$servicebus/websocket"

// isWebSocketPath reports whether p is one of the two spellings Service Bus serves.
func isWebSocketPath(p string) bool {
	return p == WebSocketPath || p == WebSocketPath+"/"
}

// HandleWebSocket mounts WebSocketHandler on mux at both spellings of
// WebSocketPath ("{$}" keeps the trailing-slash pattern from matching a subtree).
func (b *Broker) HandleWebSocket(mux *http.ServeMux) {
	h := b.WebSocketHandler()
	mux.Handle(WebSocketPath, h)
	mux.Handle(WebSocketPath+"/{$}", h)
}

// wsProtocol is the WebSocket subprotocol of AMQP over WebSockets (OASIS
// "AMQP WebSocket Binding" 1.0).
const wsProtocol = "AMQPWSB10"

// WebSocketHandler serves AMQP over WebSockets, for clients configured with a
// WebSockets transport (e.g. .NET ServiceBusTransportType.AmqpWebSockets, Java
// AMQP_WEB_SOCKETS, Python TransportType.AmqpOverWebsocket, Go
// ClientOptions.NewWebSocketConn). Mount it at WebSocketPath on an HTTPS server
// whose certificate names the namespace; each WebSocket then carries one AMQP
// connection, served exactly as those accepted by Serve. Any other path is
// answered 404, so the handler may be mounted at "/" as well.
func (b *Broker) WebSocketHandler() http.Handler {
	ws := websocket.Server{
		Handshake: func(cfg *websocket.Config, r *http.Request) error {
			if !slices.Contains(cfg.Protocol, wsProtocol) {
				return fmt.Errorf("servicebus: WebSocket subprotocol %q required, got %q", wsProtocol, cfg.Protocol)
			}
			cfg.Protocol = []string{wsProtocol}
			return nil
		},
		Handler: func(ws *websocket.Conn) {
			ws.PayloadType = websocket.BinaryFrame
			// websocket.Conn reports the Origin URL as its addresses; the broker
			// wants the peer's.
			nc := wsConn{Conn: ws, remote: wsAddr(ws.Request().RemoteAddr)}
			if !b.track(nc) {
				ws.Close()
				return
			}
			defer b.untrack(nc)
			b.serveConn(nc)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocketPath(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		ws.ServeHTTP(w, r)
	})
}

type wsConn struct {
	*websocket.Conn
	remote net.Addr
}

func (c wsConn) RemoteAddr() net.Addr { return c.remote }

type wsAddr string

func (a wsAddr) Network() string { return "websocket" }
func (a wsAddr) String() string  { return string(a) }
