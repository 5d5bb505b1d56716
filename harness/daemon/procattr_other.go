//go:build !linux

package daemon

import "syscall"

// sysProcAttr puts the server in its own process group, so Stop can kill the whole group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
