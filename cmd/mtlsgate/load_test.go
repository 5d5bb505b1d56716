package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAgainstTheEmbeddedReferenceWritesReports(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := run(context.Background(), []string{"load", "--duration", "4s", "--rate", "40", "--mode", "handshake",
		"--revoke-at", "1s", "--cert-cache-ttl", "200ms", "--out", dir}, &out, &out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out.String())
	}
	for _, f := range []string{"index.html", "load.json", "junit.xml"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, want := range []string{" 0 violations", "revoke client-midrun", "enforced true", "gate max_violations"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoadRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "https://10.1.2.3/mtls", "--certs", "x"}, "not loopback"},
		{[]string{"--url", "https://example.com/mtls", "--certs", "x"}, "not loopback"},
		{[]string{"--url", "https://127.0.0.1:1/mtls"}, "needs --certs"},
		{[]string{"--url", "https://127.0.0.1:1/mtls", "--certs", "x", "--revoke-at", "1s"}, "--revoke-at with --url needs --revoke-crl"},
		{[]string{"--population", "vald=1"}, `unknown class "vald"`},
		{[]string{"--thresholds", "/nonexistent/thresholds.yaml"}, "--thresholds"},
		{[]string{"--profile", "alb"}, "attack an ALB with --url"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"load"}, c.args...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
