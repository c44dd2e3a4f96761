package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// parseEnvFile reads KEY=VALUE lines: blank lines and # comments are skipped, an
// optional `export ` prefix is allowed, and a value wrapped in matching single or
// double quotes is unwrapped (no escapes, no interpolation: the writer is a program).
func parseEnvFile(name string, data string) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE, got %q", name, n, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, [2]string{k, v})
	}
	return out, sc.Err()
}

// loadAll waits up to wait for each file, then merges their variables into environ
// without overwriting what environ already sets. Later files win over earlier ones.
func loadAll(files, environ []string, wait time.Duration) ([]string, error) {
	set := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	fromFiles := map[string]string{}
	var order []string
	deadline := time.Now().Add(wait)
	for _, f := range files {
		data, err := readWhenPresent(f, deadline)
		if err != nil {
			return nil, err
		}
		pairs, err := parseEnvFile(f, string(data))
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			if _, seen := fromFiles[p[0]]; !seen {
				order = append(order, p[0])
			}
			fromFiles[p[0]] = p[1]
		}
	}
	env := append([]string(nil), environ...)
	for _, k := range order {
		if !set[k] {
			env = append(env, k+"="+fromFiles[k])
		}
	}
	return env, nil
}

func readWhenPresent(name string, deadline time.Time) ([]byte, error) {
	for {
		data, err := os.ReadFile(name)
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("env file %s: %w (is `localazure up` running and sharing its state volume?)", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func check(files []string) int {
	if len(files) == 0 {
		return usage()
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			fmt.Fprintf(os.Stderr, "envexec: %v\n", err)
			return 1
		}
	}
	return 0
}
