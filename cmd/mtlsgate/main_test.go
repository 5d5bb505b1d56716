package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPKISeedIsByteIdentical(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"pki", "--out", dir, "--seed", "42"}, &out, &out); err != nil {
			t.Fatalf("pki: %v\n%s", err, out.String())
		}
	}
	for _, f := range []string{"ca.crt", "client.key", "crl.pem", "manifest.json"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two --seed 42 runs", f)
		}
	}
}

func TestServeKongRejectsBadConf(t *testing.T) {
	cases := map[string]string{
		"proxy_lisen = 127.0.0.1:0\n":          `unknown property "proxy_lisen"`,
		"admin_listen = 127.0.0.1 ssl\n":       "admin_listen must be of form",
		"proxy_listen = 127.0.0.1:0 http3\n":   "proxy_listen must be of form",
		"client_ssl = on\nclient_ssl_cert = x": "client_ssl_cert_key must be specified",
	}
	for conf, want := range cases {
		path := filepath.Join(t.TempDir(), "kong.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := run(context.Background(), []string{"serve", "kong", "--conf", path}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to name %q", conf, err, want)
		}
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"nope"}, &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}
