package stackconfig

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// Find looks for localazure.json in dir and its parents, as git finds .git, so that
// the launcher and tests work from any folder of the repository.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", FileName, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or any folder above it; run from the repository or pass --config", FileName, abs)
		}
	}
}

// WithDefaults returns the ports with every zero replaced by its default.
func (p Ports) WithDefaults() Ports {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	return Ports{
		Identity:        def(p.Identity, DefaultIdentityPort),
		KeyVault:        def(p.KeyVault, DefaultKeyVaultPort),
		Cosmos:          def(p.Cosmos, DefaultCosmosPort),
		Blob:            def(p.Blob, DefaultBlobPort),
		ServiceBusAMQP:  def(p.ServiceBusAMQP, DefaultServiceBusAMQPPort),
		ServiceBusAMQPS: def(p.ServiceBusAMQPS, DefaultServiceBusAMQPSPort),
		TraceView:       def(p.TraceView, DefaultTraceViewPort),
	}
}

// Subject is the workload's service-account token subject.
func (w Workload) Subject() string {
	return "system:serviceaccount:" + w.Namespace + ":" + w.ServiceAccount
}

// Workload returns the workload called name.
func (c *Config) Workload(name string) (Workload, bool) {
	return workloadNamed(c.LocalAzure.Workloads, name)
}

// WorkloadNames lists the workloads in file order.
func (c *Config) WorkloadNames() []string { return names(c.LocalAzure.Workloads) }

// Assignments returns the role assignments with principals resolved to object ids,
// as authz.Policy wants them.
func (c *Config) Assignments() []authz.Assignment {
	out := make([]authz.Assignment, 0, len(c.LocalAzure.RoleAssignments))
	for _, ra := range c.LocalAzure.RoleAssignments {
		oid, _ := resolvePrincipal(c.LocalAzure.Workloads, ra.Principal)
		out = append(out, authz.Assignment{PrincipalID: oid, Role: ra.Role, Scope: strings.Trim(ra.Scope, "/")})
	}
	return out
}

// Policy is the authz policy of the role assignments.
func (c *Config) Policy() *authz.Policy { return authz.NewPolicy(c.Assignments()) }

// resolvePrincipal maps a workload name or object id to the object id.
func resolvePrincipal(ws []Workload, principal string) (string, bool) {
	for _, w := range ws {
		if w.Name == principal || (w.ObjectID != "" && strings.EqualFold(w.ObjectID, principal)) {
			return strings.ToLower(w.ObjectID), true
		}
	}
	return "", false
}

const (
	generatePrefix   = "generate:"
	maxGenerateBytes = 4096
)

func generateSize(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, generatePrefix))
	if err != nil || n < 1 || n > maxGenerateBytes {
		return 0, fmt.Errorf("%q: write generate:N with N random bytes from 1 to %d, e.g. \"generate:32\"", v, maxGenerateBytes)
	}
	return n, nil
}

// ResolveValue returns the secret's value: the literal, or for "generate:N" N bytes
// from rnd (crypto/rand when nil), standard base64-encoded.
func (s Secret) ResolveValue(rnd io.Reader) (string, error) {
	if !strings.HasPrefix(s.Value, generatePrefix) {
		return s.Value, nil
	}
	n, err := generateSize(s.Value)
	if err != nil {
		return "", err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("generate secret %s: %w", s.Name, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Generated reports whether the value is made at start rather than written in the file.
func (s Secret) Generated() bool { return strings.HasPrefix(s.Value, generatePrefix) }

// IsEnabled is Enabled with its default, true.
func (s Secret) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Times returns notBefore and expires, zero when absent. Valid after Parse.
func (s Secret) Times() (notBefore, expires time.Time) {
	notBefore, _ = time.Parse(time.RFC3339, s.NotBefore)
	expires, _ = time.Parse(time.RFC3339, s.Expires)
	return notBefore, expires
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedSet(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
