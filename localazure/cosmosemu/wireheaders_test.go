package cosmosemu

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

// rawHeaderNames sends one signed HTTP/1.1 request over a bare TLS connection and
// returns the response's status code and header names exactly as they were written
// on the wire, before any client canonicalises them. Non-Go clients that look
// headers up case-sensitively see these names.
func rawHeaderNames(t *testing.T, e *env, method, path, body string, hdr map[string]string) (int, []string) {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(e.endpoint, "https://"), "/")
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: sharedCA(t).Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	segs, _ := splitPath(path)
	typ, link := resourceOf(segs)
	date := time.Now().UTC().Format(http.TimeFormat)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nhost: %s\r\nx-ms-date: %s\r\nx-ms-version: 2020-11-05\r\n", method, path, addr, date)
	fmt.Fprintf(&b, "authorization: %s\r\ncontent-length: %d\r\nconnection: close\r\n", masterAuth(EmulatorKey, method, typ, link, date), len(body))
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n" + body)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewReader(bufio.NewReader(conn))
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	var code int
	if _, err := fmt.Sscanf(status, "HTTP/1.1 %d", &code); err != nil {
		t.Fatalf("status line %q: %v", status, err)
	}
	var names []string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if line == "" {
			return code, names
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, name)
	}
}

// TestResponseHeaderNamesAsTheGatewaySpellsThem checks the names byte for byte: the
// REST reference and the gateway use lowercase etag and x-ms-*
// (https://learn.microsoft.com/rest/api/cosmos-db/common-cosmosdb-rest-response-headers).
func TestResponseHeaderNamesAsTheGatewaySpellsThem(t *testing.T) {
	e := newEnv(t, nil)
	pk := map[string]string{"x-ms-documentdb-partitionkey": `["c1"]`}
	var created []string
	for i := range 3 {
		code, names := rawHeaderNames(t, e, "POST", "/dbs/orderflow/colls/orders/docs",
			fmt.Sprintf(`{"id":"o%d","customerId":"c1"}`, i), pk)
		if code != http.StatusCreated {
			t.Fatalf("create: %d", code)
		}
		created = names
	}
	query := map[string]string{
		"x-ms-documentdb-isquery":                    "true",
		"content-type":                               "application/query+json",
		"x-ms-max-item-count":                        "1",
		"x-ms-documentdb-query-enablecrosspartition": "true",
	}
	code, paged := rawHeaderNames(t, e, "POST", "/dbs/orderflow/colls/orders/docs",
		`{"query":"SELECT * FROM c","parameters":[]}`, query)
	if code != http.StatusOK {
		t.Fatalf("query: %d", code)
	}
	code, missing := rawHeaderNames(t, e, "GET", "/dbs/orderflow/colls/orders/docs/nope", "", pk)
	if code != http.StatusNotFound {
		t.Fatalf("read missing: %d", code)
	}
	for _, c := range []struct {
		what  string
		names []string
		want  []string
	}{
		{"create", created, []string{"etag", "x-ms-session-token", "x-ms-request-charge", "x-ms-activity-id", "x-ms-schemaversion", "x-ms-serviceversion"}},
		{"paged query", paged, []string{"x-ms-continuation", "x-ms-item-count", "x-ms-request-charge", "x-ms-activity-id"}},
		{"404", missing, []string{"x-ms-substatus", "x-ms-activity-id"}},
	} {
		for _, w := range c.want {
			if !slices.Contains(c.names, w) {
				t.Errorf("%s: no %q header byte for byte; the response has %v", c.what, w, c.names)
			}
		}
		for _, n := range c.names {
			if strings.HasPrefix(n, "X-Ms-") || n == "Etag" {
				t.Errorf("%s: %q is in Go's canonical form, not the gateway's lowercase", c.what, n)
			}
		}
	}
}
