//go:build unix

package kong

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// TestCertificateAndDeclarativeFilesAreBounded: ssl_cert = /dev/zero or a FIFO, and a FIFO as
// declarative_config, stop New with an error instead of growing memory or hanging (issue 13).
func TestCertificateAndDeclarativeFilesAreBounded(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, lines := range map[string]string{
		"ssl_cert /dev/zero":      "ssl_cert = /dev/zero\nssl_cert_key = /dev/zero\n",
		"ssl_cert FIFO":           "ssl_cert = " + fifo + "\nssl_cert_key = " + fifo + "\n",
		"declarative_config FIFO": "database = off\ndeclarative_config = " + fifo + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			conf, err := kongconf.Parse(strings.NewReader(lines), "kong.conf", nil)
			if err == nil {
				_, err = New(Options{Config: conf})
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
