//go:build !unix

package regularfile

import "os"

// openNonBlocking opens path for reading (FIFOs do not block opens on these systems).
func openNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}

// openAppendNonBlocking opens path for appending.
func openAppendNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}
