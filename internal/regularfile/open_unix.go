//go:build unix

package regularfile

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without waiting for a FIFO's writer.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// openAppendNonBlocking opens path for appending without waiting for a FIFO's reader.
func openAppendNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NONBLOCK, 0o644)
}
