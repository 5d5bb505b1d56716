//go:build unix

package kongconf

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFilesMustBeBoundedRegularFiles: a FIFO or a device named as kong.conf or as a certificate
// is refused at once, instead of hanging start-up or reading without end (issue 13, bug 5).
func TestFilesMustBeBoundedRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(fifo, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(FIFO) error = %v; want not a regular file", err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		if _, err := ReadPEM(path); err == nil {
			t.Errorf("ReadPEM(%s) succeeded", path)
		}
		conf := "client_ssl = on\nclient_ssl_cert = " + path + "\nclient_ssl_cert_key = " + path + "\n"
		if _, err := Parse(strings.NewReader(conf), "kong.conf", nil); err == nil || !strings.Contains(err.Error(), "client_ssl_cert: failed loading certificate from "+path) {
			t.Errorf("client_ssl_cert = %s: error = %v", path, err)
		}
	}
}
