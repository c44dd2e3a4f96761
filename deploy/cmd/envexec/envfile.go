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
// optional `export ` prefix is allowed, and the value is unquoted as a POSIX shell
// word would be (`set -a; . file` and docker compose read the same files):
// '...' is literal, "..." honours \" \\ \$ and \`, a backslash outside quotes
// escapes the next character. `localazure up` writes values a shell would split as
// '...' with ' written '\” (localazure/stack/env.go). No variable expansion.
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
		v, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, n, k, err)
		}
		out = append(out, [2]string{k, v})
	}
	return out, sc.Err()
}

func unquote(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return "", errors.New("unterminated double quote")
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
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
