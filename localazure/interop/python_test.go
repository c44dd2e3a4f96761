package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Python tests drive Service Bus with two more AMQP 1.0 stacks: azure-servicebus
// 7.8 over uamqp (the Azure uAMQP C library), and Apache Qpid Proton (proton-c), a
// client with nothing Service Bus specific. They come from Debian bookworm's
// python3-azure, python3-uamqp and python3-qpid-proton and run on Debian's own
// interpreter (/usr/bin/python3: the packages live in its dist-packages, which
// other interpreters on PATH do not see).

// sessionQueue is a session-enabled queue the interop configuration adds to the
// repository's (see interopConfig).
const sessionQueue = "sessions"

// pythonMissing says why the Python client cannot run ("" = it can).
func pythonMissing() (python, why string) {
	python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		return "", "Debian's /usr/bin/python3 is absent: run scripts/install-test-deps.sh (python3-azure, python3-uamqp, python3-qpid-proton)"
	}
	cmd := exec.Command(python, "-c", "import azure.servicebus, azure.identity, uamqp, proton")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("the Python Service Bus client is not installed (%v: %s): run scripts/install-test-deps.sh (python3-azure, python3-uamqp, python3-qpid-proton)",
			err, strings.TrimSpace(lastLine(string(out))))
	}
	return python, ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// interopConfig writes a copy of the repository's localazure.json with a session
// queue added (the app has none) and returns its path.
func interopConfig(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "localazure.json"))
	if err != nil {
		return "", fmt.Errorf("read the repository's localazure.json: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("parse localazure.json: %w", err)
	}
	ns, ok := digPath(cfg, "UserConfig", "Namespaces").([]any)
	if !ok || len(ns) == 0 {
		return "", fmt.Errorf("localazure.json: no UserConfig.Namespaces")
	}
	first, ok := ns[0].(map[string]any)
	if !ok {
		return "", fmt.Errorf("localazure.json: UserConfig.Namespaces[0] is not an object")
	}
	queues, _ := first["Queues"].([]any)
	first["Queues"] = append(queues, map[string]any{"Name": sessionQueue, "Properties": map[string]any{
		"LockDuration": "PT30S", "MaxDeliveryCount": 10, "RequiresSession": true,
	}})
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "localazure.json")
	return path, os.WriteFile(path, out, 0o600)
}

func digPath(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// runPython runs the script with the workload's pod environment and decodes the
// JSON report on its last stdout line into out.
func runPython(t *testing.T, script, workload string, extra map[string]string, out any, args ...string) {
	t.Helper()
	if pyMissing != "" {
		t.Skip(pyMissing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	env := os.Environ()
	for k, v := range st.Env(workload) {
		env = append(env, k+"="+v)
	}
	// azure-identity (requests) trusts REQUESTS_CA_BUNDLE; uamqp takes the CA file
	// as connection_verify (SB_CA_FILE).
	env = append(env, "REQUESTS_CA_BUNDLE="+st.CAFile(), "SB_CA_FILE="+st.CAFile(), "PYTHONDONTWRITEBYTECODE=1")
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	t.Logf("python %s %s: %v", script, strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("python %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	last := lastLine(stdout.String())
	if err := json.Unmarshal([]byte(last), out); err != nil {
		t.Fatalf("python %s: report %q: %v\nstderr:\n%s", script, last, err, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("report: %s", last)
	}
}

// sasKey reads the key name and key from the stack's connection string.
func sasKey(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"SESSION_QUEUE": sessionQueue}
	for _, kv := range strings.Split(st.Endpoints().ServiceBusConnectionString, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "SharedAccessKeyName":
			out["SB_SAS_KEY_NAME"] = v
		case "SharedAccessKey":
			out["SB_SAS_KEY"] = v
		}
	}
	if out["SB_SAS_KEY"] == "" {
		t.Fatalf("no key in %q", st.Endpoints().ServiceBusConnectionString)
	}
	return out
}
