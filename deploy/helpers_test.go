package deploy_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func cidrContains(cidr, ip string) bool {
	p, err := netip.ParsePrefix(cidr)
	a, err2 := netip.ParseAddr(ip)
	return err == nil && err2 == nil && p.Contains(a)
}

func anyContains(cidrs []string, ip string) bool {
	for _, c := range cidrs {
		if cidrContains(c, ip) {
			return true
		}
	}
	return false
}

// readEnvFile reads KEY=VALUE lines (comments and blanks skipped).
func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
	}
	return out
}
