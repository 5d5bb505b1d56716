package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

func TestLoadExternalConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	blackbox := "blackbox: {path: /mtls, client_cert: c.crt, client_key: c.key}\n"
	for _, tc := range []struct {
		name    string
		yaml    string
		env     []string
		wantErr string
	}{
		{"no proxy", blackbox, nil, "proxy_tls_url is required"},
		{"bad url", "proxy_tls_url: 127.0.0.1:8443\n" + blackbox, nil, `proxy_tls_url "127.0.0.1:8443" is not an http(s) URL`},
		{"unknown key", "proxy_tls_url: https://127.0.0.1:8443\nadmin: x\n", nil, "field admin not found"},
		{"admin without allow_reset", "proxy_tls_url: https://127.0.0.1:8443\nadmin_url: http://127.0.0.1:8001\n", nil, "set allow_reset: true"},
		{"admin with allow_reset from env", "proxy_tls_url: https://127.0.0.1:8443\nadmin_url: http://127.0.0.1:8001\n", []string{ExternalAllowResetEnv, "true"}, ""},
		{"cert without key", "proxy_tls_url: https://127.0.0.1:8443\nblackbox: {path: /mtls, client_cert: c.crt}\n", nil, "go together"},
		{"black-box needs a scenario", "proxy_tls_url: https://127.0.0.1:8443\n", nil, "blackbox.path, blackbox.client_cert and blackbox.client_key are required"},
		{"profile", "profile: nginx\nproxy_tls_url: https://127.0.0.1:8443\n" + blackbox, nil, `profile "nginx" is not supported`},
		{"alb without listener", "profile: alb\n", nil, "alb.listener_url"},
		{"alb without good client", "profile: alb\nalb: {listener_url: https://127.0.0.1:9445/}\n", nil, "alb.clients.good.cert and key are required"},
		{"alb cert without key", "profile: alb\nalb: {listener_url: https://127.0.0.1:9445/, clients: {good: {cert: c.crt, key: c.key}, revoked: {cert: r.crt}}}\n", nil, "alb.clients.revoked: cert and key go together"},
		{"alb ok", "profile: alb\nalb: {listener_url: https://127.0.0.1:9445/, clients: {good: {cert: c.crt, key: c.key}}}\n", nil, ""},
		{"ok", "proxy_tls_url: https://127.0.0.1:8443\n" + blackbox, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadExternalConfig(env(append([]string{ExternalConfigEnv, file(tc.yaml)}, tc.env...)...))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.BlackBox.ClientCert != "" && c.BlackBox.ClientCert != filepath.Join(dir, "c.crt") {
					t.Errorf("client_cert %q is not resolved against the YAML file's directory", c.BlackBox.ClientCert)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestExternalClaims(t *testing.T) {
	t.Setenv(ExternalProxyTLSEnv, "https://127.0.0.1:8443")
	t.Setenv(ExternalPathEnv, "/mtls")
	t.Setenv(ExternalClientCertEnv, "c.crt")
	t.Setenv(ExternalClientKeyEnv, "c.key")
	black := &ExternalTarget{}
	if ok, _ := black.Claims("K-MTLS-1"); !ok {
		t.Error("a black-box external target must claim K-MTLS-1")
	}
	if ok, why := black.Claims("K-ADM-1"); ok || !strings.Contains(why, "admin_url") {
		t.Errorf("without admin_url K-ADM-1 is not claimed, got %v %q", ok, why)
	}
	if ok, _ := black.Supports(catalog.AdminAPI); ok {
		t.Error("without admin_url the Admin API is not supported")
	}
	t.Setenv(ExternalAdminEnv, "http://127.0.0.1:8001")
	t.Setenv(ExternalAllowResetEnv, "true")
	admin := &ExternalTarget{}
	if ok, why := admin.Claims("K-ADM-1"); !ok {
		t.Errorf("with admin_url K-ADM-1 is claimed, got %q", why)
	}
	if ok, _ := admin.Supports(catalog.KongConf); ok {
		t.Error("an external gateway's kong.conf is never supported")
	}
	if ok, _ := admin.Claims("A-TS-1"); ok {
		t.Error("the external target does not claim the ALB profile")
	}
}
