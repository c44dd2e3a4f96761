package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// errSlowBody is the cause of a body that arrived slower than the minimum rate.
var errSlowBody = errors.New("request body arrived too slowly")

// slowBodyError says how slow; it unwraps to errSlowBody.
type slowBodyError struct {
	min    int64
	window time.Duration
}

func (e *slowBodyError) Error() string {
	return fmt.Sprintf("%v: less than %d bytes in %v", errSlowBody, e.min, e.window)
}
func (e *slowBodyError) Unwrap() error { return errSlowBody }

// minRateReader bounds a request body's pace separately from its size: after a
// grace period, every window must bring at least min bytes, or reading fails with
// a *slowBodyError. A size limit alone lets a client hold a connection (and a
// handler) for the server's whole ReadTimeout by trickling a byte at a time; a rate
// floor ends that within grace+window while a large upload on a slow but working
// link (anything above min/window) still gets through.
//
// A client that sends nothing at all would block Read, so before each Read the
// connection's read deadline is set to the moment the current window fails; the
// deadline never passes hard, the overall cap that replaces the server's
// ReadTimeout for this body.
type minRateReader struct {
	r           io.ReadCloser
	now         func() time.Time
	setDeadline func(time.Time) error // the connection's; nil or failing = post-read checks only
	min         int64
	window      time.Duration
	hard        time.Time

	graceEnd  time.Time // bytes before it do not count towards any window
	windowEnd time.Time // end of the window being counted
	got       int64     // bytes in that window
	err       error     // sticky
}

func newMinRateReader(r io.ReadCloser, now func() time.Time, setDeadline func(time.Time) error, min int64, grace, window, max time.Duration) *minRateReader {
	start := now()
	return &minRateReader{r: r, now: now, setDeadline: setDeadline, min: min, window: window,
		hard: start.Add(max), graceEnd: start.Add(grace), windowEnd: start.Add(grace + window)}
}

func (m *minRateReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.setDeadline != nil {
		// The current window already has its bytes: only the next one can fail.
		d := m.windowEnd
		if m.got >= m.min {
			d = d.Add(m.window)
		}
		_ = m.setDeadline(minTime(d, m.hard))
	}
	n, err := m.r.Read(p)
	t := m.now()
	// Close the windows that ended before these bytes arrived.
	for !t.Before(m.windowEnd) {
		if m.got < m.min {
			m.fail(&slowBodyError{min: m.min, window: m.window})
			return 0, m.err
		}
		m.got = 0
		m.windowEnd = m.windowEnd.Add(m.window)
	}
	if !t.Before(m.graceEnd) {
		m.got += int64(n)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && t.Before(m.hard) {
			// Our deadline fired before the hard cap: the window came up short.
			err = &slowBodyError{min: m.min, window: m.window}
		}
		m.fail(err)
		return n, err
	}
	return n, nil
}

// fail records the end of reading. Only a body read to its end moves the
// deadline back to the hard cap, where the server's ReadTimeout had it (the
// server's background read must not trip over a window's deadline and cancel the
// request while the handler works). After a failure it stays: net/http drains an
// unread body before writing the response, and that drain must fail fast too.
func (m *minRateReader) fail(err error) {
	m.err = err
	if errors.Is(err, io.EOF) && m.setDeadline != nil {
		_ = m.setDeadline(m.hard)
	}
}

// Close lifts the deadline when the handler stopped reading early without a
// failure, for the same reason as after io.EOF.
func (m *minRateReader) Close() error {
	if m.setDeadline != nil && m.err == nil {
		_ = m.setDeadline(m.hard)
	}
	return m.r.Close()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// paced wraps the request body in the rate floor of s.limits; the body-reading
// handlers call it before applying their size limit.
func (s *Server) paced(c echo.Context) io.ReadCloser {
	req := c.Request()
	rc := http.NewResponseController(c.Response())
	l := s.limits
	return newMinRateReader(req.Body, s.now, rc.SetReadDeadline, l.BodyMinBytes, l.BodyRateGrace, l.BodyRateWindow, l.BodyMaxDuration)
}
