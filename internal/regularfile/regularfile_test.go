//go:build unix

package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.pem")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"regular file", small, nil},
		{"over the limit", big, ErrTooLarge},
		{"FIFO without a writer returns at once", fifo, ErrNotRegular},
		{"character device", "/dev/zero", ErrNotRegular},
		{"directory", dir, ErrNotRegular},
		{"missing", filepath.Join(dir, "missing"), os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Read(tc.path, 10)
			if tc.want == nil {
				if err != nil || string(b) != "hello" {
					t.Fatalf("Read = %q, %v; want hello", b, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read error = %v; want %v", err, tc.want)
			}
		})
	}
}
