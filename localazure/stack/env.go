package stack

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// Env returns the environment of a workload's pod as AKS would give it, pointed at
// the stand-ins: the four variables the workload identity webhook injects, the
// endpoints under the names LocalAzure.endpointEnv gives them (what the Deployment
// sets in AKS), SSL_CERT_FILE so that the local CA is trusted, the configuration's
// env entries, and with FixedPorts its listen addresses. A ${workload.VARIABLE} in
// an env entry becomes that workload's listen address (as a client dials it); on
// ephemeral ports (tests) there is none yet, so such an entry is left out and the
// test sets it to the address it picked. It returns nil for an unknown workload.
func (s *Stack) Env(workload string) map[string]string {
	w, ok := s.cfg.Workload(workload)
	if !ok {
		return nil
	}
	env := map[string]string{}
	// The standard OpenTelemetry variable, so that an instrumented workload's traces
	// reach the trace view; the configuration may point it elsewhere.
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = strings.TrimSuffix(s.endpoints.TraceView, "/")
	maps.Copy(env, s.cfg.LocalAzure.Env)
	maps.Copy(env, w.Env)
	for k, v := range env {
		if expanded, ok := stackconfig.ExpandListenRefs(v, s.listenDialAddr); ok {
			env[k] = expanded
		} else {
			delete(env, k)
		}
	}
	e := s.endpoints
	env["AZURE_CLIENT_ID"] = w.ClientID
	env["AZURE_TENANT_ID"] = s.cfg.LocalAzure.TenantID
	env["AZURE_FEDERATED_TOKEN_FILE"] = s.idp.TokenFile(workload)
	env["AZURE_AUTHORITY_HOST"] = e.Authority
	names := s.cfg.LocalAzure.EndpointEnv
	for name, value := range map[string]string{names.KeyVault: e.KeyVault, names.Cosmos: e.Cosmos, names.Blob: e.Blob, names.ServiceBus: e.ServiceBusAMQPS, names.TraceView: e.TraceView} {
		if name != "" && value != "" { // Blob is "" when Azurite is off
			env[name] = value
		}
	}
	env["SSL_CERT_FILE"] = s.CAFile()
	for _, l := range s.ListenAddrs(workload) {
		env[l.Var] = l.Addr
	}
	return env
}

// ListenAddrs returns the addresses a workload is told to listen on (its
// LocalAzure.workloads[].listen, moved by PortOffset, or the caller's override).
// Only with FixedPorts: on ephemeral ports (tests) the caller picks them.
func (s *Stack) ListenAddrs(workload string) []stackconfig.ListenAddr {
	w, ok := s.cfg.Workload(workload)
	if !ok || !s.opts.FixedPorts {
		return nil
	}
	return w.ListenAddrs(s.opts.ListenOverride)
}

// listenDialAddr is where a client reaches workload ref.Workload's listen address
// ref.Var, with the offset and overrides applied.
func (s *Stack) listenDialAddr(ref stackconfig.ListenRef) (string, bool) {
	for _, l := range s.ListenAddrs(ref.Workload) {
		if l.Var == ref.Var {
			return l.DialAddr(), true
		}
	}
	return "", false
}

// WriteEnvFiles writes <workload>.env for every workload into dir and returns the
// paths by workload. Lines are KEY=value, sorted; values that a shell would split
// are single-quoted, which docker compose's env_file and `set -a; . file` both read.
func (s *Stack) WriteEnvFiles(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localazure: env files: %w", err)
	}
	paths := map[string]string{}
	for _, name := range s.cfg.WorkloadNames() {
		p := filepath.Join(dir, name+".env")
		if err := os.WriteFile(p, []byte(FormatEnv(name, s.Env(name))), 0o600); err != nil {
			return nil, fmt.Errorf("localazure: env file of %s: %w", name, err)
		}
		paths[name] = p
	}
	return paths, nil
}

// FormatEnv renders env as an env file for workload.
func FormatEnv(workload string, env map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Environment of workload %q on the local stack, written by `localazure up`.\n", workload)
	b.WriteString("# The first four are what the AKS workload identity webhook injects.\n")
	first := []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}
	for _, k := range first {
		if v, ok := env[k]; ok {
			fmt.Fprintf(&b, "%s=%s\n", k, quoteEnv(v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !slices.Contains(first, k) {
			fmt.Fprintf(&b, "%s=%s\n", k, quoteEnv(env[k]))
		}
	}
	return b.String()
}

func quoteEnv(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t'\"\\$`#;&|<>()*?[]{}~!") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// ParseEnv reads an env file as FormatEnv writes it.
func ParseEnv(data string) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '='", i+1)
		}
		if strings.HasPrefix(v, "'") {
			if len(v) < 2 || !strings.HasSuffix(v, "'") {
				return nil, fmt.Errorf("line %d: unterminated quote", i+1)
			}
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
		}
		env[k] = v
	}
	return env, nil
}
