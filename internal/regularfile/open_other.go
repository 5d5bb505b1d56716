//go:build !unix

package regularfile

import "os"

// openNonBlocking opens path for reading (FIFOs do not block opens on these systems).
func openNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}
