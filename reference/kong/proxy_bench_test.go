package kong

import (
	"context"
	"crypto/tls"
	"github.com/mtlsgate/mtlsgate/internal/proxybench"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// BenchmarkProxyKeepAliveKong drives the proxy listener as `make bench` does: mtls-auth enabled
// globally with a consumer named like the client certificate's CN, a route /anything to the
// echo, and GET /anything over kept-alive TLS 1.3 mTLS connections. Client, gateway and echo
// share the process, so ns/op and allocs/op are the whole exchange's; profile it with
// -cpuprofile/-memprofile to see where the gateway's share goes.
func BenchmarkProxyKeepAliveKong(b *testing.B) {
	target, cert := startBenchKong(b)
	proxybench.Run(b, target, cert, true)
}

// BenchmarkProxyHandshakeKong is BenchmarkProxyKeepAliveKong with a new connection, so a full
// TLS 1.3 mTLS handshake (no resumption), for every request, as make bench's handshake rate.
func BenchmarkProxyHandshakeKong(b *testing.B) {
	target, cert := startBenchKong(b)
	proxybench.Run(b, target, cert, false)
}

// startBenchKong starts the echo and a gateway configured as make bench configures it, and
// returns the URL to request and the client's certificate.
func startBenchKong(b *testing.B) (string, tls.Certificate) {
	ctx := context.Background()
	p, err := benchPKI()
	if err != nil {
		b.Fatal(err)
	}
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = echo.Close(ctx) })
	conf, err := kongconf.Parse(strings.NewReader("proxy_listen = 127.0.0.1:0 ssl\nadmin_listen = 127.0.0.1:0\nstatus_listen = off\nssl_cipher_suite = modern\n"), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Config: conf})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close(ctx) })
	admin := g.URL("admin", false)
	post := func(path string, v url.Values) string {
		resp, err := http.PostForm(admin+path, v)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	ca := post("/ca_certificates", url.Values{"cert": {string(p.Get(fixtures.RootCA).CertPEM())}})
	caID := ca[strings.Index(ca, `"id":"`)+6:]
	caID = caID[:strings.IndexByte(caID, '"')]
	post("/plugins", url.Values{"name": {MTLSAuthName}, "config.ca_certificates": {caID}, "config.revocation_check_mode": {"SKIP"}})
	post("/services", url.Values{"name": {"echo"}, "url": {echo.HTTPURL()}})
	post("/services/echo/routes", url.Values{"paths[]": {"/anything"}, "strip_path": {"false"}})
	post("/consumers", url.Values{"username": {fixtures.ClientCommonName}})

	return g.URL("proxy", true) + "/anything", p.Get(fixtures.Client).TLSCertificate()
}

// benchPKI is generated once for every benchmark of the package: its RSA keys would otherwise
// dominate a CPU profile.
var benchPKI = sync.OnceValues(func() (*fixtures.PKI, error) {
	return fixtures.Generate(context.Background(), fixtures.Options{})
})
