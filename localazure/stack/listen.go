package stack

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// host is the address every stand-in binds and every URL names. An IP rather than
// "localhost": localhost may resolve to ::1 first, where nothing listens, and not
// every language's client falls back to 127.0.0.1.
const host = "127.0.0.1"

// listen binds host:port, or an ephemeral port when port is 0.
func listen(name string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if port != 0 {
			return nil, fmt.Errorf("%s: port %d on %s: %w (is another localazure running? stop it, change LocalAzure.ports in localazure.json, or move every port with localazure up --port-offset N, LOCALAZURE_PORT_OFFSET=N make run)", name, port, host, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ln, nil
}

func portOf(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

func hostPort(ln net.Listener) string { return net.JoinHostPort(host, strconv.Itoa(portOf(ln))) }

// httpServer serves h over TLS on ln, HTTP/1.1 only: the Azure SDK for Go spends more
// CPU per request on HTTP/2 for nothing on loopback, and Azure's own front ends speak
// HTTP/1.1 to these SDKs.
func httpServer(name string, h http.Handler, cfg *tls.Config, logger *slog.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Server{
		Handler:           h,
		TLSConfig:         cfg,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		// Bodies are small JSON documents; blobs go to Azurite, not through here.
		ReadTimeout:  time.Minute,
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		// TLS handshake failures land here: usually an app that does not trust the CA.
		ErrorLog: slog.NewLogLogger(logger.With("service", name).Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln until it is shut down, logging an unexpected end.
func serve(name string, srv *http.Server, ln net.Listener, logger *slog.Logger) {
	if err := srv.Serve(tls.NewListener(ln, srv.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("stand-in stopped serving", "service", name, "err", err)
	}
}
