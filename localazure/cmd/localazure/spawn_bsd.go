//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// childSysProcAttr puts a child in its own process group: a terminal's Ctrl-C then
// reaches only the launcher, which stops the children in order, and a stop reaches
// grandchildren too. macOS and the BSDs have no parent-death signal, so a launcher
// killed with kill -9 leaves its children running (localazure/README.md says so).
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startChild(cmd *exec.Cmd) error { return cmd.Start() }

const pdeathsigSupported = false
