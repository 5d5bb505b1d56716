package harness

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness/daemon"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

func TestNginxClaimsOnlyWhatNginxDoes(t *testing.T) {
	n := &NginxTarget{}
	for _, id := range []catalog.ID{"K-MTLS-1", "K-MTLS-2", "K-MTLS-3", "K-MTLS-6", "K-UP-1", "K-UP-5", "K-TLS-1", "K-SNI-1", "K-SNI-2"} {
		if ok, why := n.Claims(id); !ok {
			t.Errorf("nginx does not claim %s: %s", id, why)
		}
	}
	for id, want := range map[catalog.ID]string{
		"K-ADM-1": "façade", "K-ADM-4": "DB-less", "K-MTLS-8": "distribution points", "K-MTLS-9": "partial-chain",
		"K-PROXY-1": "Server header", "K-UP-6": "resolves upstream hosts", "A-MODE-3": "kong profile only",
	} {
		ok, why := n.Claims(id)
		if ok || !strings.Contains(why, want) {
			t.Errorf("Claims(%s) = %v, %q; want false naming %q", id, ok, why, want)
		}
	}
	if ok, _ := n.Claims("K-MTLS-4"); ok != hasNJS() {
		t.Errorf("K-MTLS-4 is claimed exactly when njs is installed (installed: %v)", hasNJS())
	}
	if ok, why := n.Supports(catalog.Revocation); ok || why == "" {
		t.Errorf("Supports(revocation) = %v, %q; want false with a reason", ok, why)
	}
	if ok, _ := n.Supports(catalog.AdminAPI); !ok {
		t.Error("the suites configure nginx through the Admin API store: Supports(admin-api) must be true")
	}
}

func TestNginxSettingsFromKongConf(t *testing.T) {
	s, err := nginxSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ServerCerts) != 1 || s.TLS.Protocols != "TLSv1.2 TLSv1.3" || s.VerifyDepth != 1 || s.Verify {
		t.Errorf("defaults: %d certificates, protocols %q, depth %d, verify %v", len(s.ServerCerts), s.TLS.Protocols, s.VerifyDepth, s.Verify)
	}
	s, err = nginxSettings([]string{"ssl_cipher_suite = modern", "nginx_proxy_proxy_ssl_verify = on"})
	if err != nil || s.TLS.Protocols != "TLSv1.3" || !s.Verify {
		t.Errorf("modern + verify: %+v %v", s.TLS, err)
	}
	for lines, want := range map[string]string{
		"database = off": "kong.conf database: the nginx target does not render it",
		"client_ssl = on\nclient_ssl_cert = /x.crt": "client_ssl_cert_key must be specified",
		"ssl_cipher_suite = bogus":                  "Undefined cipher suite bogus",
	} {
		if _, err := nginxSettings(strings.Split(lines, "\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", lines, err, want)
		}
	}
}

// TestNginxRefusedChangeKeepsServing runs the nginx target when nginx is installed: an Admin API
// change nginx cannot express is refused with the field named, the store keeps the last good
// configuration, and nginx goes on serving it; an accepted change is served by the next request.
func TestNginxRefusedChangeKeepsServing(t *testing.T) {
	if _, err := daemon.Lookup("nginx"); err != nil {
		t.Skip("nginx is not installed (apt-get install -y nginx)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := (&NginxTarget{}).StartKong(ctx, KongSetup{PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sys.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(sys.ProxyURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	svc, err := sys.Admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: sys.EchoURL + "/anything"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "ok", Paths: []string{"/ok"}, Service: &kongapi.Ref{ID: svc.ID}}); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/ok"); code != http.StatusOK {
		t.Fatalf("GET /ok right after the Admin API answered: %d %s", code, body)
	}
	_, err = sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "by-method", Methods: []string{"GET"}, Paths: []string{"/h"}, Service: &kongapi.Ref{ID: svc.ID}})
	e, ok := kongapi.AsError(err)
	if !ok || e.Status != http.StatusBadRequest || !strings.Contains(e.Message, "field methods") {
		t.Fatalf("a route by methods: %v, want 400 naming field methods", err)
	}
	routes, err := sys.Admin.List(ctx, "/routes")
	if err != nil || len(routes) != 1 {
		t.Fatalf("routes after the refused change: %v %v, want the one good route", routes, err)
	}
	if code, body := get("/ok"); code != http.StatusOK {
		t.Errorf("GET /ok after the refused change: %d %s", code, body)
	}
	if code, body := get("/h"); code != http.StatusNotFound || !strings.Contains(body, "no Route matched with those values") {
		t.Errorf("GET /h: %d %s, want Kong's 404", code, body)
	}
}
