package stack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ServiceStatus is the outcome of probing one stand-in.
type ServiceStatus struct {
	Name string // identity, keyvault, cosmos, blob, servicebus-amqps, servicebus-amqp
	URL  string
	Err  error // nil = it answered
}

// Status probes every stand-in: an https request that must get an HTTP answer (a
// 401 is an answer) with the local CA's certificate, or an AMQP connection.
func (s *Stack) Status(ctx context.Context) []ServiceStatus {
	e := s.endpoints
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}, DisableKeepAlives: true},
	}
	defer hc.CloseIdleConnections()
	out := []ServiceStatus{
		{Name: "identity", URL: e.Authority, Err: probeHTTP(ctx, hc, e.Authority+s.cfg.LocalAzure.TenantID+"/v2.0/.well-known/openid-configuration", http.StatusOK)},
		{Name: "keyvault", URL: e.KeyVault, Err: probeHTTP(ctx, hc, e.KeyVault+"secrets?api-version=7.4", 0)},
		{Name: "cosmos", URL: e.Cosmos, Err: probeCosmos(ctx, hc, e.Cosmos, e.CosmosKey)},
	}
	if e.Blob != "" {
		out = append(out, ServiceStatus{Name: "blob", URL: e.Blob, Err: probeHTTP(ctx, hc, e.Blob+"?comp=list", 0)})
	}
	out = append(out,
		ServiceStatus{Name: "servicebus-amqps", URL: "amqps://" + e.ServiceBusAMQPS, Err: probeAMQP(ctx, e.ServiceBusAMQPS, &tls.Config{RootCAs: s.ca.Pool(), ServerName: host})},
		ServiceStatus{Name: "servicebus-amqp", URL: "amqp://" + e.ServiceBusAMQP, Err: probeAMQP(ctx, e.ServiceBusAMQP, nil)},
	)
	return out
}

// probeHTTP GETs url and wants any HTTP answer, or exactly want when not 0.
func probeHTTP(ctx context.Context, hc *http.Client, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if want != 0 && resp.StatusCode != want {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// probeAMQP sends the AMQP 1.0 protocol header and wants one back: the broker
// answers with its own header (SASL or plain) before anything else.
func probeAMQP(ctx context.Context, addr string, tlsCfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	var c net.Conn
	var err error
	if tlsCfg != nil {
		c, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// "AMQP" 3 1 0 0: the SASL layer header, which every Service Bus client opens with.
	if _, err := c.Write([]byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}); err != nil {
		return err
	}
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return fmt.Errorf("no AMQP protocol header back: %w", err)
	}
	if string(hdr[:4]) != "AMQP" {
		return fmt.Errorf("answered %q, not an AMQP protocol header", hdr[:])
	}
	return nil
}

// probeCosmos reads the database account with the master key, as every SDK's first
// call does: an unauthenticated probe would be logged as a failed request.
func probeCosmos(ctx context.Context, hc *http.Client, endpoint, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("cosmos key: %w", err)
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	mac := hmac.New(sha256.New, k)
	// verb, resource type, resource link, date: lower-cased, as the documented scheme signs.
	mac.Write([]byte("get\n\n\n" + strings.ToLower(date) + "\n\n"))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", url.QueryEscape("type=master&ver=1.0&sig="+sig))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading the database account answered %s", resp.Status)
	}
	return nil
}
