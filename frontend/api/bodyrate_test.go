package api

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tickingReader returns chunk bytes per Read and advances the fake clock by step.
type tickingReader struct {
	clock *time.Time
	chunk int
	step  time.Duration
	left  int
}

func (r *tickingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	*r.clock = r.clock.Add(r.step)
	n := min(r.chunk, len(p), r.left)
	r.left -= n
	return n, nil
}

func (*tickingReader) Close() error { return nil }

func TestMinRateReader(t *testing.T) {
	const minBytes, window = 16 << 10, 10 * time.Second
	for _, tt := range []struct {
		name  string
		chunk int
		step  time.Duration
		total int
		slow  bool
	}{
		// 1 KiB a second is 10 KiB per window: cut off once the grace is over.
		{"trickle", 1 << 10, time.Second, 1 << 20, true},
		// 2 KiB a second (20 KiB per window) is slow but enough: a 1 MiB upload takes 8 minutes of fake time.
		{"slow but steady", 2 << 10, time.Second, 1 << 20, false},
		// Short bodies finish within the grace whatever their pace.
		{"small within grace", 100, time.Second, 900, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			src := &tickingReader{clock: &clock, chunk: tt.chunk, step: tt.step, left: tt.total}
			r := newMinRateReader(src, func() time.Time { return clock }, nil, minBytes, 10*time.Second, window, time.Hour)
			n, err := io.Copy(io.Discard, r)
			if tt.slow {
				var se *slowBodyError
				if !errors.As(err, &se) || !errors.Is(err, errSlowBody) {
					t.Fatalf("read %d bytes, err %v; want a slow body error", n, err)
				}
				if elapsed := clock.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); elapsed > 21*time.Second {
					t.Errorf("cut off after %v, want within grace+window", elapsed)
				}
				return
			}
			if err != nil || n != int64(tt.total) {
				t.Fatalf("read %d of %d bytes, err %v", n, tt.total, err)
			}
		})
	}
}

// TestSlowBodyIsRefused sends a few bytes of an order and then stalls: with short
// windows the server must answer 400 problem+json soon, not wait for ReadTimeout.
func TestSlowBodyIsRefused(t *testing.T) {
	f := newFixture(t, Limits{BodyMinBytes: 1 << 10, BodyRateGrace: 100 * time.Millisecond, BodyRateWindow: 200 * time.Millisecond})
	for _, tc := range []struct{ path, ct, head string }{
		{"/api/orders", "application/json", `{"customerId":"c-1","items":[`},
		{"/api/orders/" + f.seedOrder("c-1", time.Now()).ID + "/attachments", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhel"},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		req := "POST " + tc.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + tc.ct + "\r\nContent-Length: 60000\r\n\r\n" + tc.head
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufioReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no response: %v", tc.path, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: answered after %v", tc.path, took)
		}
		if resp.StatusCode != http.StatusBadRequest {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: status %d, want 400: %s", tc.path, resp.StatusCode, b)
		}
		if p := decodeProblem(t, resp); !strings.Contains(p.Detail, "too slowly") {
			t.Errorf("%s: detail %q", tc.path, p.Detail)
		}
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
