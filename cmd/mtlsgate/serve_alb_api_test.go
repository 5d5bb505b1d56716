package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// TestServeALBAPIOnly: `serve alb --api` without --config serves the AWS endpoint alone and
// answers an ELBv2 call; a non-loopback --api needs --api-allow-remote.
func TestServeALBAPIOnly(t *testing.T) {
	g := NewWithT(t)
	err := serveALB(t.Context(), []string{"--api", "192.0.2.1:4566"}, io.Discard, io.Discard)
	g.Expect(err).To(MatchError(ContainSubstring("--api-allow-remote")))
	err = serveALB(t.Context(), []string{"--api", "127.0.0.1:0", "--api-connection-log-interval", "0s"}, io.Discard, io.Discard)
	g.Expect(err).To(MatchError(ContainSubstring("--api-connection-log-interval")))

	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- serveALB(ctx, []string{"--api", "127.0.0.1:0", "--state", t.TempDir()}, out, io.Discard)
	}()
	endpoint := regexp.MustCompile(`alb AWS endpoint \(ELBv2, S3, ACM\) (http://\S+)`)
	g.Eventually(out.String).WithTimeout(10 * time.Second).WithPolling(10 * time.Millisecond).Should(MatchRegexp(endpoint.String()))
	base := endpoint.FindStringSubmatch(out.String())[1]
	resp, err := http.PostForm(base, url.Values{"Action": {"DescribeSSLPolicies"}, "Version": {"2015-12-01"}})
	g.Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(strings.Contains(string(body), "<Name>ELBSecurityPolicy-TLS13-1-3-2021-06</Name>")).To(BeTrue(), string(body))
	cancel()
	g.Eventually(done).WithTimeout(15 * time.Second).Should(Receive(BeNil()))
}

// TestServeALBYAMLBesideAPI: with --config and --api the YAML's listener serves and the API
// answers, side by side.
func TestServeALBYAMLBesideAPI(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	g.Expect(pki.WriteDir(dir)).To(Succeed())
	conf := `Listeners:
  - Port: 0
    Protocol: HTTPS
    Certificates: [{CertificateFile: server.crt, PrivateKeyFile: server.key}]
    DefaultActions: [{Type: forward, TargetGroupArn: echo}]
TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckEnabled: false
`
	g.Expect(os.WriteFile(filepath.Join(dir, "alb.yaml"), []byte(conf), 0o644)).To(Succeed())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- serveALB(ctx, []string{"--config", filepath.Join(dir, "alb.yaml"), "--api", "127.0.0.1:0"}, out, io.Discard)
	}()
	endpoint := regexp.MustCompile(`alb AWS endpoint \(ELBv2, S3, ACM\) (http://\S+)`)
	g.Eventually(out.String).WithTimeout(10 * time.Second).WithPolling(10 * time.Millisecond).Should(MatchRegexp(endpoint.String()))
	listener := regexp.MustCompile(`alb listener 0 \(\S+, mTLS off\) (https://\S+)`).FindStringSubmatch(out.String())
	g.Expect(listener).NotTo(BeNil(), out.String())
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test client
	resp, err := c.Get(listener[1] + "/anything")
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable), "the YAML's group has no target: ALB's 503")
	resp, err = http.PostForm(endpoint.FindStringSubmatch(out.String())[1], url.Values{"Action": {"DescribeLoadBalancers"}, "Version": {"2015-12-01"}})
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	cancel()
	g.Eventually(done).WithTimeout(15 * time.Second).Should(Receive(BeNil()))
}
