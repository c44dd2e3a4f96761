package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// portOffsetEnv moves every port as --port-offset does, for `make run`, which
// passes no flags of its own: LOCALAZURE_PORT_OFFSET=100 make run.
const portOffsetEnv = "LOCALAZURE_PORT_OFFSET"

// defaultPortOffset is --port-offset's default: LOCALAZURE_PORT_OFFSET, or 0.
func defaultPortOffset(getenv func(string) string) (int, error) {
	v := getenv(portOffsetEnv)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usageError{fmt.Errorf("%s=%q: write a whole number, e.g. %s=100", portOffsetEnv, v, portOffsetEnv)}
	}
	return n, nil
}

// portClaim is a port up is about to bind or hand to a workload.
type portClaim struct {
	addr string // what is bound: host:port
	port int
	what string // e.g. "cosmos (LocalAzure.ports.cosmos)" or "HTTP_ADDR of workload frontend"
}

// claims lists the stand-ins' ports (Blob only with Azurite) and the listen
// addresses of the workloads that will be started.
func claims(cfg *stackconfig.Config, workloads []string, blob bool, override func(string) (string, bool)) []portClaim {
	var out []portClaim
	for _, u := range cfg.StandInPorts() {
		if u.Field == "LocalAzure.ports.blob" && !blob {
			continue
		}
		out = append(out, portClaim{addr: net.JoinHostPort(stackconfig.ListenHost, strconv.Itoa(u.Port)), port: u.Port, what: u.Field})
	}
	for _, name := range workloads {
		w, _ := cfg.Workload(name)
		for _, l := range w.ListenAddrs(override) {
			out = append(out, portClaim{addr: l.Addr, port: l.Port(), what: fmt.Sprintf("%s of workload %s", l.Var, name)})
		}
	}
	return out
}

// checkPortsFree binds and releases each claim, so that a port held by a service
// started by hand (or left from an earlier run) stops `up` before anything starts,
// with what holds it and the fix, rather than a workload failing to listen later.
func checkPortsFree(cs []portClaim, offset int) error {
	var errs []error
	for _, c := range cs {
		ln, err := net.Listen("tcp", c.addr)
		if err == nil {
			ln.Close()
			continue
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			errs = append(errs, fmt.Errorf("port %d (%s): cannot listen on %s: %w", c.port, c.what, c.addr, err))
			continue
		}
		errs = append(errs, portTaken(c, offset))
	}
	return errors.Join(errs...)
}

func portTaken(c portClaim, offset int) error {
	move := fmt.Sprintf("or move every port of the stack: --port-offset %d (make run: %s=%d make run)", offset+100, portOffsetEnv, offset+100)
	h, err := findHolder(c.port)
	switch {
	case err == nil && h.pid > 0:
		return fmt.Errorf("port %d (%s) is taken by pid %d: %s\n  fix: kill %d (a service started by hand, or left from an earlier run), %s", c.port, c.what, h.pid, h.command, h.pid, move)
	case err == nil:
		return fmt.Errorf("port %d (%s) is taken by a process of another user (socket inode %d)\n  fix: stop it (sudo ss -ltnp 'sport = :%d' names it), %s", c.port, c.what, h.inode, c.port, move)
	default:
		return fmt.Errorf("port %d (%s) is taken (%v)\n  fix: stop what listens there (lsof -nP -iTCP:%d -sTCP:LISTEN names it), %s", c.port, c.what, err, c.port, move)
	}
}

// holder is the process listening on a port.
type holder struct {
	pid     int // 0 when the socket was found but not its process (another user's)
	command string
	inode   uint64
}

// lookupEnv is os.LookupEnv, for the listen overrides: a variable set in the
// launcher's environment wins over localazure.json, as it did before listen existed.
func lookupEnv(v string) (string, bool) { return os.LookupEnv(v) }
