package main

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// childSysProcAttr puts a child in its own process group (a terminal's Ctrl-C then
// reaches only the launcher, which stops the children in order, and a stop reaches
// grandchildren too) and asks the kernel to send it SIGTERM when the launcher dies,
// even by kill -9, so that it drains as a pod does instead of running on unseen.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// startChild starts cmd from one OS thread that lives as long as the launcher: the
// kernel sends Pdeathsig when the thread that forked the child exits, not the
// process (prctl(2), PR_SET_PDEATHSIG), and the Go runtime may end an idle thread.
func startChild(cmd *exec.Cmd) error {
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawner() <- req
	return <-req.done
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var spawner = sync.OnceValue(func() chan<- spawnRequest {
	ch := make(chan spawnRequest)
	go func() {
		runtime.LockOSThread() // never unlocked, and this goroutine never returns
		for req := range ch {
			req.done <- req.cmd.Start()
		}
	}()
	return ch
})

const pdeathsigSupported = true
