package stackconfig

import (
	"fmt"
	"net"
	"strconv"
)

// ListenHost is the host of every address the launcher hands out: the stand-ins'
// (an IP, since localhost may resolve to ::1 first where nothing listens).
const ListenHost = "127.0.0.1"

// ListenAddr is one listen address a workload is given.
type ListenAddr struct {
	Var  string // the variable the workload reads it from, e.g. HTTP_ADDR
	Addr string // host:port as the workload gets it, e.g. 127.0.0.1:8080
	// Overridden is true when the address came from the caller (the launcher's own
	// environment) rather than from LocalAzure.workloads[].listen.
	Overridden bool
	Open       bool // the address the launcher announces (Workload.Open)
}

// Port is the address's port, or 0 if it has none.
func (l ListenAddr) Port() int {
	_, p, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// DialAddr is where a client on this machine reaches the address: a wildcard or
// empty host (":8080", "0.0.0.0:8080", "[::]:8080") is reached on loopback.
func (l ListenAddr) DialAddr() string {
	h, p, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return l.Addr
	}
	switch h {
	case "", "0.0.0.0":
		h = ListenHost
	case "::":
		h = "::1"
	}
	return net.JoinHostPort(h, p)
}

// URL is the http URL of the address's root.
func (l ListenAddr) URL() string { return "http://" + l.DialAddr() + "/" }

// ListenAddrs returns the workload's listen addresses sorted by variable. override,
// if not nil, looks up a variable the caller has set itself (the launcher passes
// its environment, so `HTTP_ADDR=:9000 localazure up` keeps working); such an
// address is used as given and not moved by an offset.
func (w Workload) ListenAddrs(override func(string) (string, bool)) []ListenAddr {
	vars := sortedKeys(w.Listen)
	out := make([]ListenAddr, 0, len(vars))
	for _, v := range vars {
		l := ListenAddr{Var: v, Addr: net.JoinHostPort(ListenHost, strconv.Itoa(w.Listen[v])), Open: v == w.Open}
		if override != nil {
			if a, ok := override(v); ok && a != "" {
				l.Addr, l.Overridden = a, true
			}
		}
		out = append(out, l)
	}
	return out
}

// ShiftPorts adds offset to every port of the configuration: the stand-ins' (their
// defaults filled in first) and every workload's listen ports, so that one setting
// moves a whole stack next to another one or away from ports already in use. A
// port moved outside 1–65535 is an error naming its field.
func (c *Config) ShiftPorts(offset int) error {
	p := &problems{file: "--port-offset " + strconv.Itoa(offset)}
	shift := func(field string, v int) int {
		n := v + offset
		if n < 1 || n > 65535 {
			p.add(field, "%d moved by %d is %d, not a TCP port; use an offset from %d to %d", v, offset, n, 1-v, 65535-v)
		}
		return n
	}
	ports := c.LocalAzure.Ports.WithDefaults()
	for _, x := range ports.fields() {
		*x.v = shift("LocalAzure.ports."+x.name, *x.v)
	}
	c.LocalAzure.Ports = ports
	for i := range c.LocalAzure.Workloads {
		w := &c.LocalAzure.Workloads[i]
		shifted := make(map[string]int, len(w.Listen))
		for v, port := range w.Listen {
			shifted[v] = shift(fmt.Sprintf("LocalAzure.workloads[%d].listen.%s", i, v), port)
		}
		if len(w.Listen) > 0 {
			w.Listen = shifted
		}
	}
	return p.err()
}

// portField is one of the stand-ins' ports, by its JSON name.
type portField struct {
	name string
	v    *int
	def  int
}

func (p *Ports) fields() []portField {
	return []portField{
		{"identity", &p.Identity, DefaultIdentityPort},
		{"keyVault", &p.KeyVault, DefaultKeyVaultPort},
		{"cosmos", &p.Cosmos, DefaultCosmosPort},
		{"blob", &p.Blob, DefaultBlobPort},
		{"serviceBusAmqp", &p.ServiceBusAMQP, DefaultServiceBusAMQPPort},
		{"serviceBusAmqps", &p.ServiceBusAMQPS, DefaultServiceBusAMQPSPort},
		{"traceView", &p.TraceView, DefaultTraceViewPort},
	}
}

// PortUse is a port the launcher binds or hands out, and what it is for.
type PortUse struct {
	Port  int
	Field string // e.g. LocalAzure.ports.cosmos or LocalAzure.workloads[0].listen.HTTP_ADDR
}

// StandInPorts lists the stand-ins' ports with their fields (defaults filled in).
func (c *Config) StandInPorts() []PortUse {
	ports := c.LocalAzure.Ports.WithDefaults()
	var out []PortUse
	for _, x := range ports.fields() {
		out = append(out, PortUse{Port: *x.v, Field: "LocalAzure.ports." + x.name})
	}
	return out
}
