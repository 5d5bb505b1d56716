package nginxconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// Fixed ids keep the rendered text stable.
const (
	caID       = "11111111-1111-4111-8111-111111111111"
	pluginID   = "22222222-2222-4222-8222-222222222222"
	serviceID  = "33333333-3333-4333-8333-333333333333"
	routeID    = "44444444-4444-4444-8444-444444444444"
	consumerID = "55555555-5555-4555-8555-555555555555"
	aclID      = "66666666-6666-4666-8666-666666666666"
)

// keyPair makes a self-signed ECDSA certificate; ca makes it a CA.
func keyPair(t *testing.T, cn string, ca bool) KeyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"mtlsgate-test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// snapshot loads a declarative document into a fresh store and returns its snapshot.
func snapshot(t *testing.T, doc map[string]any) *admin.Snapshot {
	t.Helper()
	db, err := admin.New(admin.Options{Plugins: kong.PluginSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	doc["_format_version"] = "3.0"
	if e := db.LoadDeclarative(doc); e != nil {
		t.Fatalf("load declarative document: %s %v", e.Message, e.Body())
	}
	return db.Snapshot()
}

func settings(t *testing.T) Settings {
	return Settings{
		ProxyAddr: "127.0.0.1:18000", ProxyTLSAddr: "127.0.0.1:18443", StatusAddr: "127.0.0.1:18007",
		ServerCerts: []KeyPair{keyPair(t, "localhost", false)}, TLS: TLSPolicy{Protocols: "TLSv1.2 TLSv1.3", Ciphers: kong.CipherSuites()[kong.DefaultCipherSuite].Ciphers},
		VerifyDepth: 1, Via: "1.1 mtlsgate-nginx (test)",
	}
}

// walkthrough is the README's scenario: the CA, a global mtls-auth, /mtls to an echo, a consumer.
func walkthrough(t *testing.T, plugin map[string]any, extra map[string]any) map[string]any {
	ca := keyPair(t, "Test Root CA", true)
	cfg := map[string]any{"ca_certificates": []any{caID}}
	for k, v := range plugin {
		cfg[k] = v
	}
	doc := map[string]any{
		"ca_certificates": []any{map[string]any{"id": caID, "cert": string(ca.Cert)}},
		"services": []any{map[string]any{"id": serviceID, "name": "echo", "url": "http://127.0.0.1:8080/anything",
			"routes": []any{map[string]any{"id": routeID, "name": "echo", "paths": []any{"/mtls"}}}}},
		"consumers": []any{map[string]any{"id": consumerID, "username": "demo@apim.eu", "custom_id": "demo",
			"acls": []any{map[string]any{"group": "admins"}}}},
		"plugins": []any{map[string]any{"id": pluginID, "name": kong.MTLSAuthName, "config": cfg}},
	}
	for k, v := range extra {
		doc[k] = v
	}
	return doc
}

// full is the main file and every included file, for assertions on text.
func full(r *Rendered) string {
	var b strings.Builder
	b.WriteString(r.Config(7))
	for _, k := range sortedKeys(r.Files) {
		b.WriteString("\n### " + k + "\n")
		b.Write(r.Files[k])
	}
	return b.String()
}

func mustContain(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("rendered configuration lacks %q", w)
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	r, err := Render(snapshot(t, map[string]any{}), settings(t))
	if err != nil {
		t.Fatal(err)
	}
	text := full(r)
	mustContain(t, text,
		"listen 127.0.0.1:18007;", `location = /__mtlsgate/generation { default_type text/plain; return 200 "7"; }`,
		"listen 127.0.0.1:18000;", "listen 127.0.0.1:18443 ssl default_server;", "ssl_protocols TLSv1.2 TLSv1.3;",
		`return 404 '{"message":"no Route matched with those values","request_id":"$request_id"}';`)
	if strings.Contains(text, "ssl_verify_client") {
		t.Error("no mtls-auth plugin, yet the listener asks for client certificates")
	}
	checkWithNginx(t, r)
}

func TestRenderMTLSAuthWalkthrough(t *testing.T) {
	r, err := Render(snapshot(t, walkthrough(t, nil, nil)), settings(t))
	if err != nil {
		t.Fatal(err)
	}
	text := full(r)
	mustContain(t, text,
		"ssl_verify_client optional;", "error_page 495 = @mtlsgate_cert_failed;", "location @mtlsgate_cert_failed { rewrite ^ $uri last; }",
		`"~^CN=Test Root CA,O=mtlsgate-test$" "`+caID+`";`,
		// the CN-only lookup, by username for an unknown CA and for the plugin's CA (nginx
		// reads "\\" in a quoted string as one backslash)
		`"~^\\|demo@apim\\.eu$" "`+consumerID+`";`, `"~^`+caID+`\\|demo@apim\\.eu$" "`+consumerID+`";`,
		`if ($mtlsgate_deny_1 = nocert) { return 401 '{"message":"No required TLS certificate was sent"}'; }`,
		`if ($mtlsgate_deny_1 = failed) { return 401 '{"message":"TLS certificate failed verification"}'; }`,
		"proxy_set_header X-Consumer-ID $mtlsgate_consumer_1;", `proxy_set_header X-Consumer-Groups "";`,
		`proxy_set_header X-Forwarded-Prefix "/mtls";`, "location /mtls {", `rewrite ^ "/__mtlsgate/route/$mtlsgate_route_1$uri" last;`, "location ^~ /__mtlsgate/route/r0/ {",
		`rewrite "^/__mtlsgate/route/r0/mtls(/.*)$" "/anything$1" break;`,
		"proxy_pass http://127.0.0.1:8080;")
	checkWithNginx(t, r)
}

func TestRenderNJSAndACL(t *testing.T) {
	s := settings(t)
	s.NJSModule = "/usr/lib/nginx/modules/ngx_http_js_module.so"
	doc := walkthrough(t, map[string]any{"anonymous": consumerID}, map[string]any{})
	doc["plugins"] = append(doc["plugins"].([]any), map[string]any{"id": aclID, "name": kong.ACLName, "config": map[string]any{"allow": []any{"admins"}}})
	r, err := Render(snapshot(t, doc), s)
	if err != nil {
		t.Fatal(err)
	}
	text := full(r)
	mustContain(t, text,
		`load_module "/usr/lib/nginx/modules/ngx_http_js_module.so";`, "js_set $mtlsgate_lookup_1 mtlsgate.lookup_1;",
		`"username":{"demo@apim.eu":"`+consumerID+`"}`,
		// anonymous: a failure proceeds as the consumer, flagged
		`default "`+consumerID+`";`, `default "true";`, "proxy_set_header X-Anonymous-Consumer $mtlsgate_anonymous_1;",
		// acl: the consumer's groups decide, and reach the upstream
		`"~^`+regexp.QuoteMeta(consumerID)+`$" allow;`, `if ($mtlsgate_acl_1_1 = deny) { return 403 '{"message":"You cannot consume this service"}'; }`,
		"proxy_set_header X-Consumer-Groups $mtlsgate_groups_1;", `"admins";`)
	if _, err := os.Stat(s.NJSModule); err == nil {
		checkWithNginx(t, r)
	}
}

func TestRenderSNICertificatesInKongOrder(t *testing.T) {
	api, wild := keyPair(t, "api.example.test", false), keyPair(t, "wildcard.example.test", false)
	doc := map[string]any{"certificates": []any{
		map[string]any{"cert": string(api.Cert), "key": string(api.Key), "snis": []any{"api.example.test"}},
		map[string]any{"cert": string(wild.Cert), "key": string(wild.Key), "snis": []any{"*.example.test", "api.example.*"}},
	}}
	r, err := Render(snapshot(t, doc), settings(t))
	if err != nil {
		t.Fatal(err)
	}
	text := r.Config(1)
	exact := strings.Index(text, `server_name "api.example.test";`)
	leading := strings.Index(text, `server_name "~^[^.]+\\.example\\.test$";`)
	trailing := strings.Index(text, `server_name "~^api\\.example\\.[^.]+$";`)
	if exact < 0 || leading < 0 || trailing < 0 || !(leading < trailing) {
		t.Errorf("server names exact@%d leading@%d trailing@%d, want all, leading before trailing:\n%s", exact, leading, trailing, text)
	}
	checkWithNginx(t, r)
}

// TestRenderDispatchInKongPriority: routes sharing a path are told apart by Host and SNI, a
// route by hosts beats a longer path without, and an https-only route answers 426 over http.
func TestRenderDispatchInKongPriority(t *testing.T) {
	doc := map[string]any{"services": []any{map[string]any{"name": "s", "url": "http://127.0.0.1:1/s", "routes": []any{
		map[string]any{"name": "wild", "hosts": []any{"*.hosts.test"}},
		map[string]any{"name": "exact", "hosts": []any{"a.hosts.test"}},
		map[string]any{"name": "long", "paths": []any{"/p/q"}},
		map[string]any{"name": "sni", "snis": []any{"api.example.test"}, "protocols": []any{"https"}, "paths": []any{"/p"}},
	}}}}
	r, err := Render(snapshot(t, doc), settings(t))
	if err != nil {
		t.Fatal(err)
	}
	text := r.Config(1)
	// the map of location /p/q: sni route (snis+paths), exact host, wildcard host, then /p/q
	block := text[strings.Index(text, "$mtlsgate_route_2 {"):]
	block = block[:strings.Index(block, "}")]
	order := []string{`"~^https\\|[^|]*\\|(?:api\\.example\\.test)$"`, `"~^[a-z]+\\|(?:a\\.hosts\\.test)\\|"`, `"~^[a-z]+\\|(?:[^|]*\\.hosts\\.test)\\|"`}
	last := -1
	for _, o := range order {
		i := strings.Index(block, o)
		if i < last {
			t.Errorf("dispatch of /p/q: %s is missing or out of Kong's order:\n%s", o, block)
		}
		last = i
	}
	mustContain(t, full(r), `add_header Upgrade "TLS/1.2, HTTP/1.1" always;`, `return 426 '{"message":"Please use HTTPS protocol"}';`)
	checkWithNginx(t, r)
}

func TestRenderRefusesWhatNginxCannotDo(t *testing.T) {
	other := keyPair(t, "Other Root CA", true)
	cases := map[string]struct {
		doc   map[string]any
		field string
	}{
		"route methods": {walkthrough(t, nil, map[string]any{"services": []any{map[string]any{"name": "h", "url": "http://127.0.0.1:1/",
			"routes": []any{map[string]any{"methods": []any{"GET"}}}}}}), "methods"},
		"route hosts with a port": {walkthrough(t, nil, map[string]any{"services": []any{map[string]any{"name": "h", "url": "http://127.0.0.1:1/",
			"routes": []any{map[string]any{"hosts": []any{"a.example.test:8000"}}}}}}), "hosts"},
		"skip_consumer_lookup without njs": {walkthrough(t, map[string]any{"skip_consumer_lookup": true}, nil), "config.skip_consumer_lookup"},
		"allow_partial_chain":              {walkthrough(t, map[string]any{"allow_partial_chain": true}, nil), "config.allow_partial_chain"},
		"STRICT revocation":                {walkthrough(t, map[string]any{"revocation_check_mode": "STRICT"}, nil), "config.revocation_check_mode"},
		"plugins trusting different CAs": {func() map[string]any {
			d := walkthrough(t, nil, nil)
			d["ca_certificates"] = append(d["ca_certificates"].([]any), map[string]any{"id": aclID, "cert": string(other.Cert)})
			d["services"].([]any)[0].(map[string]any)["plugins"] = []any{map[string]any{"name": kong.MTLSAuthName, "config": map[string]any{"ca_certificates": []any{aclID}}}}
			return d
		}(), "config.ca_certificates"},
		"a '$' in a username": {walkthrough(t, nil, map[string]any{"consumers": []any{map[string]any{"username": "a$b"}}}), "username"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(snapshot(t, c.doc), settings(t))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want a *nginxconf.Error naming %s, got %v", c.field, err)
			}
			if e.Field != c.field {
				t.Errorf("error names field %q, want %q: %v", e.Field, c.field, e)
			}
		})
	}
}

// TestRewritesJoinPathsAsKongV0 applies the rendered rewrites as nginx does (first match wins,
// $1 substituted) to the K-PROXY-1 cases and Kong's get_upstream_uri_v0 table.
func TestRewritesJoinPathsAsKongV0(t *testing.T) {
	cases := []struct {
		route string
		strip bool
		base  string
		req   string
		want  string
	}{
		{"/a", true, "/s", "/a", "/s"},
		{"/a", true, "/s", "/a/x", "/s/x"},
		{"/a", true, "/s", "/abc", "/s/bc"},
		{"/a/b", false, "/s", "/a/b", "/s/a/b"},
		{"/a/b", false, "/s", "/a/b/c", "/s/a/b/c"},
		{"/a/", true, "/s", "/a/", "/s/"},
		{"/a", true, "/s/", "/a", "/s"},
		{"/a", true, "/s/", "/a/x", "/s/x"},
		{"/a", true, "/s/", "/ax", "/s/x"},
		{"/a", true, "/", "/a", "/"},
		{"/a", false, "/s/", "/a/x", "/s/a/x"},
		{"/a", false, "/", "/a/x", "/a/x"},
		{"", true, "/s", "/x", "/s/x"},
		{"/echo", true, "/anything", "/echo/deeper", "/anything/deeper"},
	}
	for _, c := range cases {
		rws, _ := rewrites(c.route, c.strip, c.base)
		got := ""
		for _, rw := range rws {
			re := regexp.MustCompile(rw[0])
			if m := re.FindStringSubmatch(c.req); m != nil {
				got = rw[1]
				if len(m) > 1 {
					got = strings.Replace(got, "$1", m[1], 1)
				}
				break
			}
		}
		if got != c.want {
			t.Errorf("route %q strip=%v service path %q: %s → %q, want %q (rewrites %q)", c.route, c.strip, c.base, c.req, got, c.want, rws)
		}
	}
}

func TestPolicyFor(t *testing.T) {
	for suite, want := range map[string]string{"modern": "TLSv1.3", "intermediate": "TLSv1.2 TLSv1.3", "old": "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", "fips": "TLSv1.2"} {
		p, err := PolicyFor(suite, nil, "")
		if err != nil || p.Protocols != want {
			t.Errorf("%s: %+v %v, want protocols %q", suite, p, err, want)
		}
	}
	if p, err := PolicyFor("custom", []string{"TLSv1.2"}, "ECDHE-ECDSA-AES256-GCM-SHA384"); err != nil || p.Ciphers != "ECDHE-ECDSA-AES256-GCM-SHA384" {
		t.Errorf("custom: %+v %v", p, err)
	}
	if _, err := PolicyFor("custom", []string{"SSLv3"}, ""); err == nil || !strings.Contains(err.Error(), "ssl_protocols") {
		t.Errorf("custom with SSLv3: %v, want an error naming ssl_protocols", err)
	}
	if _, err := PolicyFor("bogus", nil, ""); err == nil || !strings.Contains(err.Error(), "Undefined cipher suite bogus") {
		t.Errorf("bogus: %v", err)
	}
}

// checkWithNginx writes the rendering into a prefix directory and runs nginx -t on it, when
// nginx is installed: the text must be a configuration nginx itself accepts.
func checkWithNginx(t *testing.T, r *Rendered) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			t.Log("nginx is not installed: the rendered text was not checked with nginx -t")
			return
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"conf", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range r.Files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(r.Config(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-q", "-p", dir+"/", "-c", "nginx.conf", "-e", "logs/error.log").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t refused the rendered configuration: %v\n%s\n%s", err, out, r.Config(1))
	}
}

// TestRewritesAgreeWithTheReference: for every combination of route path, strip_path, service
// path and matching request, the rendered rewrites give the path reference/kong sends upstream
// (kong.UpstreamPath), so the renderer cannot drift from the reference's path joining.
func TestRewritesAgreeWithTheReference(t *testing.T) {
	for _, route := range []string{"", "/a", "/a/", "/a/b", "/echo"} {
		for _, strip := range []bool{true, false} {
			for _, base := range []string{"/", "/s", "/s/", "/anything", "/x/y/"} {
				for _, rest := range []string{"", "/", "x", "/x", "/x/", "bc/d", "/deep/er"} {
					req := route + rest
					if req == "" || req[0] != '/' {
						continue
					}
					want := kong.UpstreamPath(strip, route, req, base)
					rws, _ := rewrites(route, strip, base)
					got := ""
					for _, rw := range rws {
						if m := regexp.MustCompile(rw[0]).FindStringSubmatch(req); m != nil {
							got = rw[1]
							if len(m) > 1 {
								got = strings.Replace(got, "$1", m[1], 1)
							}
							break
						}
					}
					if got != want {
						t.Errorf("route %q strip=%v service path %q: %s → %q, the reference sends %q (rewrites %q)", route, strip, base, req, got, want, rws)
					}
				}
			}
		}
	}
}
