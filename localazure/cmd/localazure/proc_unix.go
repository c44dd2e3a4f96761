//go:build unix

package main

import (
	"os"
	"syscall"
)

// terminate asks the child's process group to stop.
func terminate(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// kill stops the child's process group for good.
func kill(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
