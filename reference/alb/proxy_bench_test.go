package alb_test

import (
	"context"
	"crypto/tls"
	"github.com/mtlsgate/mtlsgate/internal/proxybench"
	"sync"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// BenchmarkProxyKeepAliveALB drives a verify-mode HTTPS listener as `make bench` does: a
// TLS-1.3-only policy, forwarding to the echo, and GET /anything over kept-alive TLS 1.3 mTLS
// connections. Client, listener and echo share the process, so ns/op and allocs/op are the
// whole exchange's; profile it with -cpuprofile/-memprofile to see the listener's share.
func BenchmarkProxyKeepAliveALB(b *testing.B) {
	for _, mode := range []string{alb.ModeVerify, alb.ModePassthrough} {
		b.Run(mode, func(b *testing.B) {
			target, cert := startBenchALB(b, mode)
			proxybench.Run(b, target, cert, true)
		})
	}
}

// BenchmarkProxyHandshakeALB is BenchmarkProxyKeepAliveALB with a new connection, so a full
// TLS 1.3 mTLS handshake, for every request, as make bench's handshake rate.
func BenchmarkProxyHandshakeALB(b *testing.B) {
	for _, mode := range []string{alb.ModeVerify, alb.ModePassthrough} {
		b.Run(mode, func(b *testing.B) {
			target, cert := startBenchALB(b, mode)
			proxybench.Run(b, target, cert, false)
		})
	}
}

// startBenchALB starts the echo and a listener in mode configured as make bench configures it,
// and returns the URL to request and the client's certificate.
func startBenchALB(b *testing.B, mode string) (string, tls.Certificate) {
	e := newBenchEnv(b)
	cfg := e.config(mode)
	cfg.Listeners[0].SslPolicy = "ELBSecurityPolicy-TLS13-1-3-2021-06"
	f := false
	cfg.TargetGroups[0].HealthCheckEnabled = &f
	a, err := alb.Start(b.Context(), cfg, alb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close(context.Background()) })
	return a.URL(0) + "/anything", e.pki.Get(fixtures.Client).TLSCertificate()
}

// benchPKI is generated once for every benchmark of the package: its RSA keys would otherwise
// dominate a CPU profile.
var benchPKI = sync.OnceValues(func() (*fixtures.PKI, error) {
	return fixtures.Generate(context.Background(), fixtures.Options{})
})

// newBenchEnv is newEnv for a benchmark, on the shared PKI.
func newBenchEnv(b *testing.B) *env {
	b.Helper()
	pki, err := benchPKI()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := pki.WriteDir(dir); err != nil {
		b.Fatal(err)
	}
	echo, err := upstream.Start(b.Context(), upstream.Config{HTTPAddr: "127.0.0.1:0", Name: "echo"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = echo.Close(context.Background()) })
	return &env{pki: pki, dir: dir, echo: echo}
}
