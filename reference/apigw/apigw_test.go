package apigw_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
)

const (
	domain   = "api.example.test"
	petsJSON = `[{"id":1,"type":"dog","price":249.99},{"id":2,"type":"cat","price":124.99},{"id":3,"type":"fish","price":0.99}]`
)

var (
	uuidShape    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	apigwIDShape = regexp.MustCompile(`^[A-Za-z0-9+/]{15}=$`)
)

type response struct {
	status int
	header http.Header
	body   string
	tls    *tls.ConnectionState
}

// env is one PKI and one running stand-in shared by the subtests (key generation is the slow part).
type env struct {
	pki *fixtures.PKI
	srv *apigw.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := apigw.Start(context.Background(), apigw.Config{Certificate: p.Get(fixtures.Server).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &env{pki: p, srv: s}
}

// do sends one request on a fresh connection, with Host set to host.
func (e *env) do(t *testing.T, method, host, path, body string) response {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.pki.Pool(fixtures.RootCA)},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequest(method, e.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), tls: resp.TLS}
}

func (e *env) set(t *testing.T, ds ...apigw.Domain) {
	t.Helper()
	if err := e.srv.SetDomains(ds); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, what string, r response, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Errorf("%s: got %d %s, want %d %s", what, r.status, r.body, status, body)
	}
	if id := r.header.Get("x-amzn-RequestId"); !uuidShape.MatchString(id) {
		t.Errorf("%s: x-amzn-RequestId %q is not a UUID", what, id)
	}
	if id := r.header.Get("x-amz-apigw-id"); !apigwIDShape.MatchString(id) {
		t.Errorf("%s: x-amz-apigw-id %q is not 16 base64 characters", what, id)
	}
}

func expectForbidden(t *testing.T, what string, r response) {
	t.Helper()
	expect(t, what, r, http.StatusForbidden, apigw.BodyForbidden)
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Errorf("%s: Content-Type %q x-amzn-ErrorType %q", what, r.header.Get("Content-Type"), r.header.Get("x-amzn-ErrorType"))
	}
}

func expectMissingToken(t *testing.T, what string, r response) {
	t.Helper()
	expect(t, what, r, http.StatusForbidden, apigw.BodyMissingAuthenticationToken)
	if r.header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("%s: x-amzn-ErrorType %q", what, r.header.Get("x-amzn-ErrorType"))
	}
}

func expectStage(t *testing.T, what string, r response, stage string) {
	t.Helper()
	if got := r.header.Get("X-Mtlsgate-Apigw-Stage"); got != stage {
		t.Errorf("%s: answered by stage %q, want %q", what, got, stage)
	}
}

func TestAPIGW(t *testing.T) {
	e := newEnv(t)

	t.Run("unmapped host is 403 Forbidden", func(t *testing.T) {
		e.set(t)
		expectForbidden(t, "no domains, IP host", e.do(t, "GET", "127.0.0.1", "/pets", ""))
		e.set(t, apigw.Domain{Name: domain})
		expectForbidden(t, "domain without mappings", e.do(t, "GET", domain, "/pets", ""))
		e.set(t, apigw.Domain{Name: domain, Mappings: []apigw.Mapping{{Stage: "prod", API: "petstore"}}})
		expectForbidden(t, "other host", e.do(t, "GET", "other.example.test", "/pets", ""))
		expectForbidden(t, "health check by IP", e.do(t, "GET", "127.0.0.1:443", "/", ""))
	})

	t.Run("root mapping serves the PetStore", func(t *testing.T) {
		e.set(t, apigw.Domain{Name: "API.Example.TEST", Mappings: []apigw.Mapping{{BasePath: "(none)", Stage: "prod", API: "petstore"}}})
		r := e.do(t, "GET", domain, "/pets", "")
		expect(t, "GET /pets", r, 200, petsJSON)
		expectStage(t, "GET /pets", r, "prod")
		if r.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.header.Get("X-Amzn-Trace-Id"), "Root=1-") {
			t.Errorf("GET /pets headers: %v", r.header)
		}
		expect(t, "GET /pets/2 with Host port and case", e.do(t, "GET", "Api.Example.Test:443", "/pets/2", ""), 200, `{"id":2,"type":"cat","price":124.99}`)
		expect(t, "GET /pets/1/", e.do(t, "GET", domain, "/pets/1/", ""), 200, `{"id":1,"type":"dog","price":249.99}`)
		expect(t, "GET /pets/9", e.do(t, "GET", domain, "/pets/9", ""), 404, `{"message":"Pet not found"}`)
		expect(t, "POST /pets", e.do(t, "POST", domain, "/pets", `{"type":"cat","price":123.11}`), 200, `{"message":"success","pet":{"type":"cat","price":123.11}}`)
		if r := e.do(t, "GET", domain, "/", ""); r.status != 200 || !strings.Contains(r.body, "Welcome to your Pet Store API") {
			t.Errorf("GET /: %d %s", r.status, r.body)
		}
		expectMissingToken(t, "unknown resource", e.do(t, "GET", domain, "/owners", ""))
		expectMissingToken(t, "stage in the path", e.do(t, "GET", domain, "/prod/pets", ""))
		expectMissingToken(t, "method the resource lacks", e.do(t, "DELETE", domain, "/pets/1", ""))
		expectMissingToken(t, "too deep", e.do(t, "GET", domain, "/pets/1/toys", ""))
	})

	t.Run("base path mappings", func(t *testing.T) {
		e.set(t,
			apigw.Domain{Name: domain, Mappings: []apigw.Mapping{
				{BasePath: "v1", Stage: "prod", API: "petstore"},
				{BasePath: "v1/beta", Stage: "beta", API: "petstore"},
			}},
			apigw.Domain{Name: "root.example.test", Mappings: []apigw.Mapping{
				{BasePath: "", Stage: "dev", API: "petstore"},
				{BasePath: "orders", Stage: "test", API: "petstore"},
			}},
		)
		r := e.do(t, "GET", domain, "/v1/pets", "")
		expect(t, "/v1/pets", r, 200, petsJSON)
		expectStage(t, "/v1/pets", r, "prod")
		r = e.do(t, "GET", domain, "/v1/beta/pets/3", "")
		expect(t, "/v1/beta/pets/3", r, 200, `{"id":3,"type":"fish","price":0.99}`)
		expectStage(t, "/v1/beta/pets/3", r, "beta")
		if r := e.do(t, "GET", domain, "/v1", ""); r.status != 200 || !strings.Contains(r.body, "Pet Store") {
			t.Errorf("/v1 (API root): %d %s", r.status, r.body)
		}
		expectForbidden(t, "/pets without the base path", e.do(t, "GET", domain, "/pets", ""))
		expectForbidden(t, "/v1x/pets", e.do(t, "GET", domain, "/v1x/pets", ""))
		expectMissingToken(t, "/v1/nope", e.do(t, "GET", domain, "/v1/nope", ""))

		r = e.do(t, "GET", "root.example.test", "/pets", "")
		expect(t, "root /pets", r, 200, petsJSON)
		expectStage(t, "root /pets", r, "dev")
		r = e.do(t, "GET", "root.example.test", "/orders/pets", "")
		expect(t, "/orders/pets", r, 200, petsJSON)
		expectStage(t, "/orders/pets", r, "test")
		expectMissingToken(t, "/ordersx/pets falls to the root mapping", e.do(t, "GET", "root.example.test", "/ordersx/pets", ""))
	})

	t.Run("SetDomains rejects bad input and keeps the last good domains", func(t *testing.T) {
		good := []apigw.Domain{{Name: domain, Mappings: []apigw.Mapping{{Stage: "prod", API: "petstore"}}}}
		e.set(t, good...)
		m := func(base, stage, api string) []apigw.Mapping {
			return []apigw.Mapping{{BasePath: base, Stage: stage, API: api}}
		}
		cases := []struct {
			ds   []apigw.Domain
			want string
		}{
			{[]apigw.Domain{{Name: "new.example.test", Mappings: m("", "prod", "")}, {Name: "", Mappings: m("", "prod", "")}}, "domains[1].name: empty"},
			{[]apigw.Domain{{Name: "new.example.test", Mappings: m("", "prod", "")}, {Name: "x.test", Mappings: m("", "prod", "orders")}}, `domains[1].mappings[0].api: unknown API "orders"`},
			{[]apigw.Domain{{Name: "https://x.test/", Mappings: m("", "prod", "")}}, "domains[0].name: \"https://x.test/\" is not a bare host name"},
			{[]apigw.Domain{{Name: "x.test:443"}}, "domains[0].name"},
			{[]apigw.Domain{{Name: "*.x.test"}}, "wildcard"},
			{[]apigw.Domain{{Name: "bad_label.test"}}, "not a valid DNS name"},
			{[]apigw.Domain{{Name: "a.test"}, {Name: "A.test"}}, "domains[1].name: \"A.test\" is already domains[0]"},
			{[]apigw.Domain{{Name: "a.test", Mappings: m("/v1", "prod", "")}}, "domains[0].mappings[0].basePath: \"/v1\": write it without leading or trailing '/'"},
			{[]apigw.Domain{{Name: "a.test", Mappings: m("v1//x", "prod", "")}}, "mappings[0].basePath"},
			{[]apigw.Domain{{Name: "a.test", Mappings: m("v 1", "prod", "")}}, "mappings[0].basePath"},
			{[]apigw.Domain{{Name: "a.test", Mappings: m("v1", "", "")}}, "domains[0].mappings[0].stage: empty"},
			{[]apigw.Domain{{Name: "a.test", Mappings: m("v1", "pr od", "")}}, "mappings[0].stage: \"pr od\""},
			{[]apigw.Domain{{Name: "a.test", Mappings: append(m("(none)", "prod", ""), m("", "dev", "")...)}}, "domains[0].mappings[1].basePath: \"(none)\" is already mapped by mappings[0]"},
		}
		for _, c := range cases {
			err := e.srv.SetDomains(c.ds)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SetDomains(%+v) = %v, want an error naming %q", c.ds, err, c.want)
			}
		}
		expect(t, "old domain still served", e.do(t, "GET", domain, "/pets", ""), 200, petsJSON)
		expectForbidden(t, "half of a rejected update", e.do(t, "GET", "new.example.test", "/pets", ""))
		if got := e.srv.Domains(); len(got) != 1 || got[0].Name != domain {
			t.Errorf("Domains() = %+v after rejected updates", got)
		}
	})

	t.Run("TLS 1.2 only", func(t *testing.T) {
		e.set(t, apigw.Domain{Name: domain, Mappings: []apigw.Mapping{{Stage: "prod", API: "petstore"}}})
		r := e.do(t, "GET", domain, "/pets", "")
		if r.tls == nil || r.tls.Version != tls.VersionTLS12 {
			t.Fatalf("default client negotiated %+v, want TLS 1.2", r.tls)
		}
		addr := strings.TrimPrefix(e.srv.URL(), "https://")
		conf := &tls.Config{RootCAs: e.pki.Pool(fixtures.RootCA), ServerName: "localhost", MinVersion: tls.VersionTLS13}
		conn, err := tls.Dial("tcp", addr, conf)
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.3-only client completed a handshake")
		}
		if !strings.Contains(err.Error(), "protocol version not supported") { // the protocol_version alert
			t.Errorf("TLS 1.3-only handshake failed with %v, want a protocol_version alert", err)
		}
		conf.MinVersion, conf.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		conn, err = tls.Dial("tcp", addr, conf)
		if err != nil {
			t.Fatalf("TLS 1.2 client: %v", err)
		}
		conn.Close()
	})
}

func TestStartNeedsCertificateAndGoodDomains(t *testing.T) {
	ctx := context.Background()
	if _, err := apigw.Start(ctx, apigw.Config{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Start without a certificate: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.WriteDir(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	write := func(s string) string {
		path := filepath.Join(dir, "apigw.yaml")
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := `listen: 127.0.0.1:0
cert: pki/server.crt
key: pki/server.key
domains:
  - name: api.example.test
    mappings:
      - basePath: "(none)"
        stage: prod
        api: petstore
      - basePath: v2
        stage: beta
`
	f, err := apigw.ReadFile(write(good))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:0" || len(cfg.Domains) != 1 || len(cfg.Domains[0].Mappings) != 2 || cfg.Domains[0].Mappings[1] != (apigw.Mapping{BasePath: "v2", Stage: "beta"}) {
		t.Errorf("config %+v", cfg)
	}
	s, err := apigw.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	e := &env{pki: p, srv: s}
	r := e.do(t, "GET", domain, "/v2/pets/1", "")
	expect(t, "from apigw.yaml", r, 200, `{"id":1,"type":"dog","price":249.99}`)
	expectStage(t, "from apigw.yaml", r, "beta")

	bad := map[string]string{
		strings.Replace(good, "stage: prod", "stgae: prod", 1):       "field stgae not found",
		strings.Replace(good, "api: petstore", "api: orders", 1):     `domains[0].mappings[0].api: unknown API "orders"`,
		strings.Replace(good, "cert: pki/server.crt\n", "", 1):       "cert and key: both are required",
		strings.Replace(good, "pki/server.key", "pki/client.key", 1): "load cert",
	}
	for doc, want := range bad {
		f, err := apigw.ReadFile(write(doc))
		if err == nil {
			_, err = f.Config()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to name %q", err, want)
		}
	}
}
