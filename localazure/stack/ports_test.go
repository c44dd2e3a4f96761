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
func configOnPorts(t *testing.T, ports []int, edit ...func(la map[string]any)) string {
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
	for _, e := range edit {
		e(m["LocalAzure"].(map[string]any))
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

// TestPortOffset: with an offset, every stand-in binds its configured port plus the
// offset, and the workloads are told their listen ports plus the offset, unless
// the caller overrides a variable.
func TestPortOffset(t *testing.T) {
	const offset = 100
	want := freePorts(t, 9, offset) // the ports the stack must end up on
	configured := make([]int, len(want))
	for i, p := range want {
		configured[i] = p - offset
	}
	cfg := configOnPorts(t, configured, func(la map[string]any) {
		ws := la["workloads"].([]any)
		ws[0].(map[string]any)["listen"] = map[string]any{"HTTP_ADDR": configured[7]}
		ws[1].(map[string]any)["listen"] = map[string]any{"HEALTH_ADDR": configured[8]}
	})
	s, err := stack.Start(testCtx(t), stack.Options{ConfigPath: cfg, FixedPorts: true, PortOffset: offset,
		ListenOverride: func(v string) (string, bool) { return "127.0.0.1:1", v == "HEALTH_ADDR" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := s.Endpoints()
	got := []string{e.Authority, e.KeyVault, e.Cosmos, e.ServiceBusAMQP, e.ServiceBusAMQPS, e.TraceView}
	wantEP := []string{
		fmt.Sprintf("https://127.0.0.1:%d/", want[0]), fmt.Sprintf("https://127.0.0.1:%d/", want[1]),
		fmt.Sprintf("https://127.0.0.1:%d/", want[2]), fmt.Sprintf("127.0.0.1:%d", want[4]), fmt.Sprintf("127.0.0.1:%d", want[5]),
		fmt.Sprintf("http://127.0.0.1:%d/", want[6]),
	}
	if fmt.Sprint(got) != fmt.Sprint(wantEP) {
		t.Fatalf("endpoints %v, want %v", got, wantEP)
	}
	if fe := s.Env("frontend"); fe["HTTP_ADDR"] != fmt.Sprintf("127.0.0.1:%d", want[7]) || fe["KEYVAULT_URL"] != wantEP[1] {
		t.Errorf("frontend env HTTP_ADDR=%q KEYVAULT_URL=%q", fe["HTTP_ADDR"], fe["KEYVAULT_URL"])
	}
	if be := s.Env("backend"); be["HEALTH_ADDR"] != "127.0.0.1:1" {
		t.Errorf("backend HEALTH_ADDR=%q, want the override", be["HEALTH_ADDR"])
	}
	// localazure.json gives the frontend BACKEND_HEALTH_URL as
	// http://${backend.HEALTH_ADDR}: it follows the backend's actual address.
	if got := s.Env("frontend")["BACKEND_HEALTH_URL"]; got != "http://127.0.0.1:1" {
		t.Errorf("frontend BACKEND_HEALTH_URL=%q, want the backend's overridden HEALTH_ADDR", got)
	}
}

// TestListenReferenceFollowsTheOffset: without an override, a reference to another
// workload's listen address carries the offset, so an offset stack's frontend asks
// its own backend, not one on the default port.
func TestListenReferenceFollowsTheOffset(t *testing.T) {
	ports := freePorts(t, 9, 200)
	configured := make([]int, len(ports))
	for i, p := range ports {
		configured[i] = p - 200
	}
	cfg := configOnPorts(t, configured, func(la map[string]any) {
		ws := la["workloads"].([]any)
		ws[0].(map[string]any)["listen"] = map[string]any{"HTTP_ADDR": configured[7]}
		ws[1].(map[string]any)["listen"] = map[string]any{"HEALTH_ADDR": configured[8]}
		ws[1].(map[string]any)["env"] = map[string]any{"PEER": "tcp://${frontend.HTTP_ADDR}/x"}
	})
	s, err := stack.Start(testCtx(t), stack.Options{ConfigPath: cfg, FixedPorts: true, PortOffset: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Env("frontend")["BACKEND_HEALTH_URL"], fmt.Sprintf("http://127.0.0.1:%d", ports[8]); got != want {
		t.Errorf("frontend BACKEND_HEALTH_URL=%q, want %q", got, want)
	}
	if got, want := s.Env("backend")["PEER"], fmt.Sprintf("tcp://127.0.0.1:%d/x", ports[7]); got != want {
		t.Errorf("backend PEER=%q, want %q", got, want)
	}
}

// freePorts returns n distinct free ports above floor.
func freePorts(t *testing.T, n, floor int) []int {
	t.Helper()
	var lns []net.Listener
	var out []int
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		if p := ln.Addr().(*net.TCPAddr).Port; p > floor {
			out = append(out, p)
		}
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// TestEphemeralPortsPassNoListenAddress: tests pick the services' addresses
// themselves, so a stack on ephemeral ports sets no listen variable.
func TestEphemeralPortsPassNoListenAddress(t *testing.T) {
	s, err := stack.Start(testCtx(t), stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, w := range s.Config().LocalAzure.Workloads {
		env := s.Env(w.Name)
		for v := range w.Listen {
			if a, ok := env[v]; ok {
				t.Errorf("%s: %s=%s on ephemeral ports", w.Name, v, a)
			}
		}
	}
	// Nor a variable naming one: the test sets it to the address it picked, and a
	// literal ${backend.HEALTH_ADDR} must never reach a workload.
	if v, ok := s.Env("frontend")["BACKEND_HEALTH_URL"]; ok {
		t.Errorf("frontend BACKEND_HEALTH_URL=%q on ephemeral ports", v)
	}
}
