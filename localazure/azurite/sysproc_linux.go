package azurite

import "syscall"

// sysProcAttr has the kernel stop Azurite if this process dies without Stop (a test
// binary killed on timeout), so that no orphan keeps the port.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
