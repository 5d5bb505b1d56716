package upstream_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

func start(t *testing.T, p *fixtures.PKI, demand bool) *upstream.Server {
	t.Helper()
	cert := p.Get(fixtures.Upstream).TLSCertificate()
	cfg := upstream.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Certificate: &cert, Name: "echo"}
	if demand {
		cfg.ClientCAs = p.Pool(fixtures.RootCA)
	}
	s, err := upstream.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func client(p *fixtures.PKI, identity string) *http.Client {
	conf := &tls.Config{RootCAs: p.Pool(fixtures.RootCA)}
	if identity != "" {
		c := p.Get(identity).TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
}

func get(t *testing.T, c *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestEchoHasHttpbinShape(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, p, false)

	req, _ := http.NewRequest("POST", s.HTTPURL()+"/anything/x?a=1&a=2&b=3", strings.NewReader(`{"k":"v"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test", "yes")
	code, body := get(t, http.DefaultClient, req)
	var e upstream.Echo
	if err := json.Unmarshal(body, &e); err != nil || code != 200 {
		t.Fatalf("status %d, body %s (%v)", code, body, err)
	}
	if e.Method != "POST" || e.Data != `{"k":"v"}` || e.JSON.(map[string]any)["k"] != "v" || e.Headers["X-Test"] != "yes" {
		t.Errorf("unexpected echo: %+v", e)
	}
	if b, ok := e.Args["b"].(string); !ok || b != "3" {
		t.Errorf("args.b = %#v, want \"3\"", e.Args["b"])
	}
	if a, ok := e.Args["a"].([]any); !ok || len(a) != 2 {
		t.Errorf("args.a = %#v, want a list of two", e.Args["a"])
	}
	if e.Origin != "127.0.0.1" || !strings.HasSuffix(e.URL, "/anything/x?a=1&a=2&b=3") || e.TLS != nil {
		t.Errorf("origin %q url %q tls %+v", e.Origin, e.URL, e.TLS)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", "form-value")
	fw, _ := mw.CreateFormFile("cert", "ca.crt")
	fw.Write([]byte("PEM"))
	mw.Close()
	req, _ = http.NewRequest("POST", s.HTTPURL()+"/anything", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	_, body = get(t, http.DefaultClient, req)
	e = upstream.Echo{}
	json.Unmarshal(body, &e)
	if e.Form["name"] != "form-value" || e.Files["cert"] != "PEM" {
		t.Errorf("multipart form %v files %v", e.Form, e.Files)
	}
}

func TestEchoReportsClientCertificate(t *testing.T) {
	p, _ := fixtures.Generate(context.Background(), fixtures.Options{})
	s := start(t, p, false)
	req, _ := http.NewRequest("GET", s.HTTPSURL()+"/anything", nil)
	_, body := get(t, client(p, fixtures.ClientIntermediate), req)
	var e upstream.Echo
	json.Unmarshal(body, &e)
	id := p.Get(fixtures.ClientIntermediate)
	if e.TLS == nil || e.TLS.ClientCertificate == nil {
		t.Fatalf("no client certificate reported: %s", body)
	}
	got := e.TLS.ClientCertificate
	if got.CommonName != "intermediate-client" || got.Issuer != "CN=mtlsgate Intermediate CA,O=mtlsgate" ||
		got.Serial != strings.ToUpper(id.Serial.Text(16)) || len(e.TLS.ClientChain) != 1 {
		t.Errorf("reported %+v chain %d", got, len(e.TLS.ClientChain))
	}

	req, _ = http.NewRequest("GET", s.HTTPSURL()+"/anything", nil)
	_, body = get(t, client(p, ""), req)
	e = upstream.Echo{}
	json.Unmarshal(body, &e)
	if e.TLS == nil || e.TLS.ClientCertificate != nil || !strings.HasPrefix(e.TLS.Version, "TLSv1.") {
		t.Errorf("without a certificate: %s", body)
	}
}

func TestDemandedCertificateAnswersLikeNginx(t *testing.T) {
	p, _ := fixtures.Generate(context.Background(), fixtures.Options{})
	s := start(t, p, true)
	cases := []struct {
		identity string
		code     int
		want     string
	}{
		{"", 400, upstream.NoCertificateMessage},
		{fixtures.ClientUnknownCA, 400, upstream.BadCertificateMessage},
		{fixtures.Client, 200, `"common_name": "demo@apim.eu"`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", s.HTTPSURL()+"/anything", nil)
		code, body := get(t, client(p, c.identity), req)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("identity %q: %d %s, want %d containing %q", c.identity, code, body, c.code, c.want)
		}
	}
}

// TestBytesAnswersTheSizeAsked: /bytes/{n} sends n bytes with a Content-Length, and refuses a
// size out of range naming the range.
func TestBytesAnswersTheSizeAsked(t *testing.T) {
	h := upstream.NewEcho(upstream.EchoOptions{})
	for _, n := range []int{0, 1, 100 << 10} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bytes/"+strconv.Itoa(n), nil))
		if rec.Code != http.StatusOK || rec.Body.Len() != n || rec.Header().Get("Content-Length") != strconv.Itoa(n) {
			t.Errorf("/bytes/%d: status %d, %d bytes, Content-Length %q", n, rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
		}
	}
	for _, bad := range []string{"-1", "x", strconv.Itoa(upstream.MaxBytes + 1)} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bytes/"+bad, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "give bytes from 0 to") {
			t.Errorf("/bytes/%s: status %d %q; want 400 naming the range", bad, rec.Code, rec.Body.String())
		}
	}
}
