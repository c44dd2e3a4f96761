package stack_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

// configOnPorts writes the repository's configuration with the given fixed ports.
func configOnPorts(t *testing.T, ports []int) string {
	t.Helper()
	repo, err := stackconfig.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(repo)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["LocalAzure"].(map[string]any)["ports"] = map[string]any{
		"identity": ports[0], "keyVault": ports[1], "cosmos": ports[2], "blob": ports[3], "serviceBusAmqp": ports[4], "serviceBusAmqps": ports[5],
		"traceView": ports[6],
	}
	out, _ := json.Marshal(m)
	p := filepath.Join(t.TempDir(), "localazure.json")
	os.WriteFile(p, out, 0o644)
	return p
}

func TestFixedPorts(t *testing.T) {
	var lns []net.Listener
	var ports []int
	for range 7 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range append(lns[:5:5], lns[6]) {
		ln.Close()
	}
	// The AMQPS port is still held: the start must fail, name it, and free the rest.
	held := lns[5]
	defer held.Close()
	cfg := configOnPorts(t, ports)
	_, err := stack.Start(testCtx(t), stack.Options{ConfigPath: cfg, FixedPorts: true})
	want := fmt.Sprintf("servicebus-amqps: port %d on 127.0.0.1", ports[5])
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "change LocalAzure.ports") {
		t.Fatalf("err = %v; want it to name %q and the fix", err, want)
	}
	for _, p := range append(ports[:5:5], ports[6]) {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d still bound after the failed start: %v", p, err)
		}
		ln.Close()
	}
	held.Close()

	// Free now: the stack binds exactly the configured ports.
	s, err := stack.Start(testCtx(t), stack.Options{ConfigPath: cfg, FixedPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := s.Endpoints()
	got := []string{e.Authority, e.KeyVault, e.Cosmos, e.ServiceBusAMQP, e.ServiceBusAMQPS, e.TraceView}
	wantEP := []string{
		fmt.Sprintf("https://127.0.0.1:%d/", ports[0]), fmt.Sprintf("https://127.0.0.1:%d/", ports[1]),
		fmt.Sprintf("https://127.0.0.1:%d/", ports[2]), fmt.Sprintf("127.0.0.1:%d", ports[4]), fmt.Sprintf("127.0.0.1:%d", ports[5]),
		fmt.Sprintf("http://127.0.0.1:%d/", ports[6]),
	}
	if fmt.Sprint(got) != fmt.Sprint(wantEP) {
		t.Fatalf("endpoints %v, want %v", got, wantEP)
	}
	if cs := e.ServiceBusConnectionString; !strings.Contains(cs, fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;", ports[4])) || !strings.Contains(cs, "UseDevelopmentEmulator=true") {
		t.Fatalf("connection string %q", cs)
	}
}
