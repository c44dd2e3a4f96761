package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// announcer prints "ready — open <url>" once every started workload that declares
// listen addresses accepts connections on them: the stand-ins being up says nothing
// about the app, and a URL printed before the page answers sends people to an error.
type announcer struct {
	out   io.Writer
	outMu *sync.Mutex // the supervisor's, so that the line is not cut into a workload's
	began time.Time

	mu      sync.Mutex
	waiting map[string]bool
	listen  map[string][]stackconfig.ListenAddr
	done    bool
}

func newAnnouncer(out io.Writer, outMu *sync.Mutex, began time.Time) *announcer {
	return &announcer{out: out, outMu: outMu, began: began, waiting: map[string]bool{}, listen: map[string][]stackconfig.ListenAddr{}}
}

// expect registers a workload before any is started; one without listen addresses
// cannot be waited for and is left out.
func (a *announcer) expect(workload string, listen []stackconfig.ListenAddr) {
	if len(listen) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.waiting[workload] = true
	a.listen[workload] = listen
}

// ready records that workload listens, and prints the line when it was the last.
func (a *announcer) ready(workload string) {
	a.mu.Lock()
	delete(a.waiting, workload)
	if len(a.waiting) > 0 || a.done || len(a.listen) == 0 {
		a.mu.Unlock()
		return
	}
	a.done = true
	line := a.line()
	a.mu.Unlock()
	a.outMu.Lock()
	fmt.Fprintln(a.out, line)
	a.outMu.Unlock()
}

func (a *announcer) line() string {
	names := make([]string, 0, len(a.listen))
	for n := range a.listen {
		names = append(names, n)
	}
	sort.Strings(names)
	var open, all []string
	for _, n := range names {
		for _, l := range a.listen[n] {
			if l.Open {
				open = append(open, l.URL())
			}
			all = append(all, fmt.Sprintf("%s %s %s", n, l.Var, l.Addr))
		}
	}
	took := time.Since(a.began).Round(100 * time.Millisecond)
	if len(open) == 0 {
		return fmt.Sprintf("ready — listening: %s  (%s after start)", strings.Join(all, ", "), took)
	}
	return fmt.Sprintf("ready — open %s  (%s listening, %s after start)", strings.Join(open, " and "), strings.Join(names, " and "), took)
}
