package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// syncBuffer is a log the test reads while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeALBReloadsWhenACRLChanges runs `serve alb`, replaces the CRL file in place, and
// checks that the next handshake sees it, and that a corrupt replacement keeps the last good one.
func TestServeALBReloadsWhenACRLChanges(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	g.Expect(pki.WriteDir(dir)).To(Succeed())
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0"})
	g.Expect(err).NotTo(HaveOccurred())
	defer echo.Close(context.Background())
	crl := filepath.Join(dir, "live.pem")
	echoPort := echo.HTTPURL()[strings.LastIndexByte(echo.HTTPURL(), ':')+1:]
	conf := `Listeners:
  - Port: 0
    Protocol: HTTPS
    Certificates: [{CertificateFile: server.crt, PrivateKeyFile: server.key}]
    MutualAuthentication: {Mode: verify, TrustStoreArn: ts}
    DefaultActions: [{Type: forward, TargetGroupArn: echo}]
TrustStores:
  - Name: ts
    CaCertificatesBundleFile: ca.crt
    RevocationContents: [{File: live.pem}]
TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1, Port: ` + echoPort + `}]
ConnectionLogs: {Path: connections.log}
`
	g.Expect(os.WriteFile(filepath.Join(dir, "alb.yaml"), []byte(conf), 0o644)).To(Succeed())
	// The first CRL is ca's, revoking nothing.
	empty, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-empty", Issuer: fixtures.RootCA})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(crl, empty.PEM, 0o644)).To(Succeed())

	outR, outW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "alb", "--config", filepath.Join(dir, "alb.yaml"), "--watch-interval", "20ms"}, outW, stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	g.Expect(err).NotTo(HaveOccurred(), stderr.String())
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	url := strings.TrimSpace(line[strings.LastIndex(line, " "):]) + "/anything"

	get := func(identity string) error {
		c := pki.Get(identity).TLSCertificate()
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{c}}}} //nolint:gosec // test client
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	g.Expect(get(fixtures.ClientRevoked)).To(Succeed())

	g.Expect(os.WriteFile(crl, pki.CRL(fixtures.CRL).PEM, 0o644)).To(Succeed())
	g.Eventually(func() error { return get(fixtures.ClientRevoked) }).WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).Should(HaveOccurred())
	g.Expect(stderr.String()).To(ContainSubstring("configuration reloaded"))

	g.Expect(os.WriteFile(crl, pki.CRL(fixtures.CRLCorrupt).PEM, 0o644)).To(Succeed())
	g.Eventually(stderr.String).WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).Should(ContainSubstring("InvalidRevocationContent"))
	g.Expect(get(fixtures.ClientRevoked)).NotTo(Succeed(), "the last good CRL stays")
	g.Expect(get(fixtures.Client)).To(Succeed())

	log, err := os.ReadFile(filepath.Join(dir, "connections.log"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(log)).To(ContainSubstring("Failed:ClientCertCrlHit"))
	cancel()
	g.Eventually(done).WithTimeout(10 * time.Second).Should(Receive(BeNil()))
}
