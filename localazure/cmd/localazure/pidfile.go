package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writePIDFile writes dir/<workload>.pid with pid, so that a lab or a script can
// signal exactly the process the launcher runs (kill -9 "$(cat .localazure/backend.pid)")
// instead of matching command lines. dir "" writes nothing. It returns the path.
func writePIDFile(dir, workload string, pid int) (string, error) {
	if dir == "" {
		return "", nil
	}
	p := filepath.Join(dir, workload+".pid")
	if err := os.WriteFile(p, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("pid file of %s: %w", workload, err)
	}
	return p, nil
}

// removePIDFile removes dir/<workload>.pid if it still names pid: between restarts
// and after the launcher stops there is no file, so a stale pid is never signalled.
func removePIDFile(dir, workload string, pid int) {
	if dir == "" {
		return
	}
	p := filepath.Join(dir, workload+".pid")
	b, err := os.ReadFile(p)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		return // already gone, or a newer run's
	}
	_ = os.Remove(p)
}
