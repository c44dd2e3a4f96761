package stackconfig

import (
	"fmt"
	"regexp"
	"strings"
)

// A value in env or workloads[].env may name another workload's listen address as
// ${workload.VARIABLE}: the frontend's BACKEND_HEALTH_URL is
// "http://${backend.HEALTH_ADDR}". The launcher replaces it with the address the
// other workload was given, so --port-offset and a listen override move both ends
// together instead of leaving the client pointed at the default port.
var listenRefRE = regexp.MustCompile(`\$\{([A-Za-z0-9._-]+)\.([A-Za-z_][A-Za-z0-9_]*)\}`)

// ListenRef is one ${workload.VARIABLE} in a value.
type ListenRef struct {
	Workload string
	Var      string
}

// ListenRefs lists the references in value, in order.
func ListenRefs(value string) []ListenRef {
	var out []ListenRef
	for _, m := range listenRefRE.FindAllStringSubmatch(value, -1) {
		out = append(out, ListenRef{Workload: m[1], Var: m[2]})
	}
	return out
}

// ExpandListenRefs replaces every reference in value with addr(ref), the dialable
// host:port of that listen address. ok is false when addr has none for a reference
// (on ephemeral ports the caller picks the addresses, so there is nothing to name).
func ExpandListenRefs(value string, addr func(ListenRef) (string, bool)) (out string, ok bool) {
	ok = true
	out = listenRefRE.ReplaceAllStringFunc(value, func(m string) string {
		s := listenRefRE.FindStringSubmatch(m)
		a, found := addr(ListenRef{Workload: s[1], Var: s[2]})
		if !found {
			ok = false
			return m
		}
		return a
	})
	return out, ok
}

// validateListenRefs checks that every reference in env names a workload of the
// configuration and one of its listen variables, and that "${" appears only in
// references (a typo such as ${backend.HEALTH_ADR} or ${backend} would otherwise
// reach the workload as literal text).
func validateListenRefs(p *problems, f string, env map[string]string, ws []Workload) {
	for _, k := range sortedKeys(env) {
		v := env[k]
		for _, r := range ListenRefs(v) {
			w, ok := workloadNamed(ws, r.Workload)
			if !ok {
				p.add(f+"."+k, "%s names workload %q, which is not in LocalAzure.workloads (%s)", r, r.Workload, quoteList(names(ws)))
				continue
			}
			if _, ok := w.Listen[r.Var]; !ok {
				p.add(f+"."+k, "%s: workload %q has no listen variable %s (it has %s); add it to that workload's listen, or name one it has", r, r.Workload, r.Var, quoteList(sortedKeys(w.Listen)))
			}
		}
		if rest := listenRefRE.ReplaceAllString(v, ""); strings.Contains(rest, "${") {
			p.add(f+"."+k, "%q has a \"${\" that is not a listen reference; write ${workload.VARIABLE}, e.g. ${backend.HEALTH_ADDR}", v)
		}
	}
}

func workloadNamed(ws []Workload, name string) (Workload, bool) {
	for _, w := range ws {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// String renders the reference as written in the configuration.
func (r ListenRef) String() string { return fmt.Sprintf("${%s.%s}", r.Workload, r.Var) }
