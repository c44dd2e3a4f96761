package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/contoso/orderflow/localazure/stack"
)

// trackerSubscription is the subscription of the events topic the driver adds to its
// copy of localazure.json: the driver counts completions from it, so tracking costs
// one delivery per order, the same for the app and the raw loop, and no reads of the
// system it measures.
const trackerSubscription = "pipeline-bench"

// benchConfig writes a copy of the repository's localazure.json to dir with free
// ports, no faults, and the tracker subscription, readable by the frontend's identity.
func benchConfig(repo, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repo, "localazure.json"))
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("localazure.json: %w", err)
	}
	la, _ := cfg["LocalAzure"].(map[string]any)
	if la == nil {
		return "", fmt.Errorf("localazure.json has no LocalAzure section")
	}
	ports := map[string]any{}
	for _, k := range []string{"identity", "keyVault", "cosmos", "blob", "serviceBusAmqp", "serviceBusAmqps", "traceView"} {
		p, err := freePort()
		if err != nil {
			return "", err
		}
		ports[k] = p
	}
	la["ports"] = ports
	delete(la, "faults")
	topic := getenvOr(la, "EVENTS_TOPIC", "order-events")
	sub, err := addSubscription(cfg, topic, trackerSubscription)
	if err != nil {
		return "", err
	}
	roles, _ := la["roleAssignments"].([]any)
	la["roleAssignments"] = append(roles, map[string]any{
		"principal": "frontend", "role": "Azure Service Bus Data Receiver",
		"scope": "servicebus/" + topic + "/subscriptions/" + sub,
	})
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "localazure.json")
	return path, os.WriteFile(path, out, 0o600)
}

// getenvOr reads a value of LocalAzure.env, the environment every workload gets.
func getenvOr(la map[string]any, key, def string) string {
	if env, ok := la["env"].(map[string]any); ok {
		if v, ok := env[key].(string); ok && v != "" {
			return v
		}
	}
	return def
}

// addSubscription copies the topic's first subscription under a new name.
func addSubscription(cfg map[string]any, topic, name string) (string, error) {
	uc, _ := cfg["UserConfig"].(map[string]any)
	nss, _ := uc["Namespaces"].([]any)
	for _, ns := range nss {
		topics, _ := ns.(map[string]any)["Topics"].([]any)
		for _, t := range topics {
			tm := t.(map[string]any)
			if tm["Name"] != topic {
				continue
			}
			subs, _ := tm["Subscriptions"].([]any)
			if len(subs) == 0 {
				return "", fmt.Errorf("topic %s has no subscription to copy", topic)
			}
			c := map[string]any{}
			for k, v := range subs[0].(map[string]any) {
				c[k] = v
			}
			c["Name"] = name
			tm["Subscriptions"] = append(subs, c)
			return name, nil
		}
	}
	return "", fmt.Errorf("localazure.json's UserConfig has no topic %s", topic)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// launcher is a running `localazure up` with the bench configuration.
type launcher struct {
	proc     *process
	stateDir string
}

// startLauncher runs bin/localazure up from the repository root (where it finds
// Azurite) and waits until it has written the workloads' env files.
func startLauncher(ctx context.Context, repo, bin, config, dir string) (*launcher, error) {
	state := filepath.Join(dir, "state")
	cmd := exec.Command(filepath.Join(bin, "localazure"), "up", "--config", config, "--state-dir", state, "--log-level", "warn")
	cmd.Dir = repo
	p, err := startProcess("localazure", cmd, filepath.Join(dir, "localazure.log"))
	if err != nil {
		return nil, err
	}
	l := &launcher{proc: p, stateDir: state}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := l.env("backend"); err == nil {
			if _, err := l.env("frontend"); err == nil {
				return l, nil
			}
		}
		if p.exited() {
			return nil, fmt.Errorf("localazure up exited at start-up; see %s", filepath.Join(dir, "localazure.log"))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("localazure up did not write its env files within 2 minutes; see %s", filepath.Join(dir, "localazure.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// env reads a workload's env file as `localazure up` wrote it.
func (l *launcher) env(workload string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(l.stateDir, workload+".env"))
	if err != nil {
		return nil, err
	}
	return stack.ParseEnv(string(b))
}

// environ turns env plus overrides into an exec environment (overrides win).
func environ(env map[string]string, overrides ...string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return append(out, overrides...)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, p *process, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited before %s answered; see its log", p.name, url)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer 200 within %s", url, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hostPort(port int) string { return "127.0.0.1:" + fmt.Sprint(port) }
