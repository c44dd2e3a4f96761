//go:build unix

package main

import (
	"os"
	"syscall"
)

// childSysProcAttr puts a child in its own process group: a terminal's Ctrl-C then
// reaches only the launcher, which stops the children in order, and a stop reaches
// grandchildren too (go run, shells).
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the child's process group to stop.
func terminate(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// kill stops the child's process group for good.
func kill(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
