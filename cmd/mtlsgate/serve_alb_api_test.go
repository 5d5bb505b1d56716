package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestServeALBAPIOnly: `serve alb --api` without --config serves the AWS endpoint alone and
// answers an ELBv2 call; a non-loopback --api needs --api-allow-remote.
func TestServeALBAPIOnly(t *testing.T) {
	g := NewWithT(t)
	err := serveALB(t.Context(), []string{"--api", "192.0.2.1:4566"}, io.Discard, io.Discard)
	g.Expect(err).To(MatchError(ContainSubstring("--api-allow-remote")))

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
