//go:build !unix

package main

import (
	"os"
	"syscall"
)

// Without Unix process groups and signals, a child is stopped by killing it.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) { _ = p.Kill() }

func kill(p *os.Process) { _ = p.Kill() }
