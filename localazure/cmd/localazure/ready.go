package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// readyPoll is how often a starting workload's listen addresses are tried.
const readyPoll = 200 * time.Millisecond

// watchReady marks w ready, and tells onReady the first time, once every listen
// address of run r accepts a TCP connection: a service that listens has passed its
// start-up (orderflow's services listen only after their configuration and identity
// checks). It gives up when r exits or the launcher stops.
func (s *supervisor) watchReady(w *workloadProc, r *attempt) {
	if len(w.listen) == 0 {
		return
	}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		select {
		case <-r.exited:
			return
		case <-s.stopping:
			return
		case <-tick.C:
		}
		if !allAccept(w) {
			continue
		}
		s.logger.Info("listening", "workload", w.name, "addrs", describeListen(w))
		if w.ready.CompareAndSwap(false, true) && s.onReady != nil {
			s.onReady(w.name)
		}
		return
	}
}

func allAccept(w *workloadProc) bool {
	for _, l := range w.listen {
		c, err := net.DialTimeout("tcp", l.DialAddr(), readyPoll)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// describeListen is "HTTP_ADDR 127.0.0.1:8080, ADMIN_ADDR 127.0.0.1:8081".
func describeListen(w *workloadProc) string {
	parts := make([]string, 0, len(w.listen))
	for _, l := range w.listen {
		parts = append(parts, l.Var+" "+l.Addr)
	}
	return strings.Join(parts, ", ")
}

// errConfigBeforeReady is what stops the launcher when a workload's configuration
// is wrong from the start: the stack would run on with a piece missing.
var errConfigBeforeReady = errors.New("exited with status 78 (configuration error) before it was ready")

// configError prints one block that says which workload exited with status 78,
// repeats its last lines and says what to do; if it had never been ready, it asks
// the launcher to stop (through s.fatal).
func (s *supervisor) configError(w *workloadProc) {
	wasReady := w.ready.Load()
	w.mu.Lock()
	tail := slices.Clone(w.tail)
	w.mu.Unlock()

	bar := strings.Repeat("=", 78)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nlocalazure: workload %s exited with status 78 (EX_CONFIG: its configuration is wrong)\n", bar, w.name)
	switch {
	case wasReady:
		fmt.Fprintf(&b, "  after it had listened on %s.\n", describeListen(w))
	case len(w.listen) > 0:
		fmt.Fprintf(&b, "  before it ever listened on %s.\n", describeListen(w))
	default:
		b.WriteString("  It declares no listen address (LocalAzure.workloads[].listen), so it was never known ready.\n")
	}
	if len(tail) > 0 {
		fmt.Fprintf(&b, "  Its last lines (all of its output is above, prefixed %q):\n", w.name+" | ")
		for _, l := range tail {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	} else {
		b.WriteString("  It printed nothing.\n")
	}
	b.WriteString("  Not restarted: restarting cannot fix a configuration.\n")
	b.WriteString("  Fix: correct what those lines name (the variable and its fix), in localazure.json's\n")
	b.WriteString("  env or in the environment you start the launcher in, then start it again.\n")
	if wasReady {
		b.WriteString("  The rest of the stack keeps running; Ctrl-C stops it.\n")
	} else {
		b.WriteString("  The launcher stops now, with every other workload and the stand-ins.\n")
	}
	b.WriteString(bar + "\n")
	s.outMu.Lock()
	fmt.Fprint(s.out, b.String())
	s.outMu.Unlock()
	if !wasReady {
		select {
		case s.fatal <- fmt.Errorf("workload %s %w (see the block above)", w.name, errConfigBeforeReady):
		default: // another workload already stopped the launcher
		}
	}
}
