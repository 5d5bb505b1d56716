package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
)

func TestKongEnv(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	for p, body := range map[string]string{crt: "CERT", key: "KEY"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, files, err := kongEnv([]string{
		"client_ssl = on",
		"client_ssl_cert = " + crt,
		"client_ssl_cert_key=" + key,
		"nginx_proxy_proxy_ssl_trusted_certificate = " + crt, // the same file twice is copied once
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"KONG_PROXY_LISTEN":                              "0.0.0.0:8000, 0.0.0.0:8443 http2 ssl",
		"KONG_ADMIN_LISTEN":                              "0.0.0.0:8001",
		"KONG_STATUS_LISTEN":                             "0.0.0.0:8100",
		"KONG_CLIENT_SSL":                                "on",
		"KONG_CLIENT_SSL_CERT":                           crt,
		"KONG_CLIENT_SSL_CERT_KEY":                       key,
		"KONG_NGINX_PROXY_PROXY_SSL_TRUSTED_CERTIFICATE": crt,
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if len(env) != 7 {
		t.Errorf("env has %d variables, want 7: %v", len(env), env)
	}
	if len(files) != 2 || files[0].Path != crt || string(files[0].Content) != "CERT" || files[1].Path != key || string(files[1].Content) != "KEY" {
		t.Errorf("files = %+v, want %s and %s with their contents, once each", files, crt, key)
	}
}

func TestKongEnvInlinePEM(t *testing.T) {
	env, files, err := kongEnv([]string{`client_ssl_cert = -----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----`,
		`client_ssl_cert_key = -----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----`, "client_ssl = on"})
	if err != nil {
		t.Fatal(err)
	}
	if got := env["KONG_CLIENT_SSL_CERT"]; got != "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" {
		t.Errorf("KONG_CLIENT_SSL_CERT = %q, want the PEM with real newlines", got)
	}
	if len(files) != 0 {
		t.Errorf("an inline PEM is no file to copy, got %+v", files)
	}
}

func TestKongEnvRejectsBadLines(t *testing.T) {
	for line, want := range map[string]string{
		"no_such_key = 1": "no_such_key",
		"client_ssl = on\nclient_ssl_cert = /x.crt": "client_ssl_cert_key must be specified",
	} {
		_, _, err := kongEnv(strings.Split(line, "\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kongEnv(%q) = %v, want an error naming %q", line, err, want)
		}
	}
}

func TestReferenceContainerClaims(t *testing.T) {
	rc := &ReferenceContainerTarget{}
	for _, b := range catalog.All() {
		ok, why := rc.Claims(b.ID)
		switch b.Profile {
		case catalog.Kong, catalog.ALB, catalog.Load:
			if !ok && b.ID != ReferenceOnlyALBAPI {
				t.Errorf("%s (%s) not claimed: %s", b.ID, b.Profile, why)
			}
		}
	}
}

// TestKongTargetWithoutImage: asking for a Kong image the engine lacks fails in seconds, saying
// which image, which variable names it, and how to get it.
func TestKongTargetWithoutImage(t *testing.T) {
	const missing = "mtlsgate-test/no-such-kong:0"
	t.Setenv(KongImageEnv, missing)
	kt := &KongTargetImpl{}
	if _, err := kt.engine.get(t.Context()); err != nil {
		t.Skipf("no Docker engine to ask for the image: %v", err)
	}
	start := time.Now()
	sys, err := kt.StartKong(t.Context(), KongSetup{PKI: &fixtures.PKI{}})
	if err == nil {
		_ = sys.Stop(context.Background())
		t.Fatalf("StartKong started %s", missing)
	}
	for _, want := range []string{missing, KongImageEnv, "docker pull " + missing, "docker load -i"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("StartKong took %s to refuse, want seconds", d)
	}
}

// A suite's proxy_listen keeps its flags but binds the ports the container publishes: 127.0.0.1:0
// inside the container is unreachable from the host.
func TestKongEnvRewritesProxyListen(t *testing.T) {
	env, _, err := kongEnv([]string{"proxy_listen = 127.0.0.1:0, 127.0.0.1:0 ssl"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := env["KONG_PROXY_LISTEN"], "0.0.0.0:8000, 0.0.0.0:8443 ssl"; got != want {
		t.Errorf("KONG_PROXY_LISTEN = %q, want %q (the flags kept, http2 not added)", got, want)
	}
	if _, _, err := kongEnv([]string{"proxy_listen = 127.0.0.1:0 ssl, 127.0.0.1:1 ssl"}); err == nil {
		t.Error("two ssl proxy listeners accepted; the container publishes one")
	}
}
