// Package regularfile reads the files a server is told to load (certificates, CA bundles, CRLs,
// configuration) safely: only regular files, never more than a stated size. A FIFO, a device such
// as /dev/zero or a directory named where a certificate belongs is refused at once, so a bad path
// can neither hang start-up nor exhaust memory.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Size caps for the kinds of files the reference servers read; each names the file's own limit
// where the real system states one.
const (
	// MaxPEM bounds a certificate, key or CA bundle file (kong.conf's ssl_cert, an ALB
	// certificate, a trust store's bundle: ALB takes 25 CAs of at most 16 KB each).
	MaxPEM = 1 << 20
	// MaxCRL bounds a revocation list file (ALB's quota: 50 MB per revocation file).
	MaxCRL = 50 << 20
	// MaxConfig bounds a configuration file (kong.conf, ALB YAML, a declarative config).
	MaxConfig = 64 << 20
)

// ErrNotRegular is returned for a path that is not a regular file (a FIFO, a device, a
// directory, a socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned for a file above the caller's limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the regular file at path, refusing anything else and anything
// larger than limit bytes. It never blocks on a FIFO: the file is opened non-blocking and
// checked on the open descriptor, so a path swapped after a check is caught too.
func Read(path string, limit int64) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: %w (it is a %s); give the path of a file", path, ErrNotRegular, kind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("read %s: %w: %d bytes, the limit is %d", path, ErrTooLarge, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return b, nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// OpenAppend opens the regular file at path for appending, creating it if needed (a log). It
// never blocks on a FIFO and refuses anything but a regular file.
func OpenAppend(path string) (*os.File, error) {
	f, err := openAppendNonBlocking(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (it is a %s); give the path of a file", path, ErrNotRegular, kind(st.Mode()))
	}
	return f, nil
}
