package daemon

import "syscall"

// sysProcAttr puts the server in its own process group (a Ctrl-C of the test run does not race
// the graceful stop, and Stop can kill the whole group) and asks the kernel to stop it when the
// harness dies, so no orphan keeps the ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
