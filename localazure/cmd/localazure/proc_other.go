//go:build !unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// Without Unix process groups and signals, a child is stopped by killing it.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

func startChild(cmd *exec.Cmd) error { return cmd.Start() }

func terminate(p *os.Process) { _ = p.Kill() }

func kill(p *os.Process) { _ = p.Kill() }

const pdeathsigSupported = false
