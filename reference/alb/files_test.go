//go:build unix

package alb_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// TestBadFilesAreRefusedAndTheRunningConfigStays: /dev/zero or a FIFO as a CA bundle, CRL,
// certificate or connection log is refused at once, naming the field, and the load balancer
// keeps serving with its running configuration (issue 13, bug 5).
func TestBadFilesAreRefusedAndTheRunningConfigStays(t *testing.T) {
	e := newEnv(t)
	good := e.config(alb.ModeVerify)
	lb, err := alb.Start(context.Background(), good, alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close(context.Background())
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/zero", fifo} {
		for field, set := range map[string]func(*alb.Config){
			"CaCertificatesBundleFile": func(c *alb.Config) { c.TrustStores[0].CaCertificatesBundleFile = path },
			"RevocationContents": func(c *alb.Config) {
				c.TrustStores[0].RevocationContents = []alb.RevocationContents{{File: path}}
			},
			"CertificateFile":     func(c *alb.Config) { c.Listeners[0].Certificates[0].CertificateFile = path },
			"ConnectionLogs.Path": func(c *alb.Config) { c.ConnectionLogs.Path = path },
		} {
			cfg := e.config(alb.ModeVerify)
			set(&cfg)
			err := lb.Reload(context.Background(), cfg)
			want := "not a regular file"
			if field == "ConnectionLogs.Path" && path == fifo {
				want = "no such device or address" // a FIFO without a reader: opening it does not wait for one
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s = %s: error = %v; want %s", field, path, err, want)
			}
		}
	}
	if got := lb.Config().TrustStores[0].CaCertificatesBundleFile; got != good.TrustStores[0].CaCertificatesBundleFile {
		t.Errorf("the running configuration changed: bundle %s", got)
	}
}
