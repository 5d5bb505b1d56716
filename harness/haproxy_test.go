package harness

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness/daemon"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

func TestHAProxyHealthOf(t *testing.T) {
	for _, c := range []struct {
		status, check, code string
		state, reason, desc string
	}{
		{"UP", "INI", "", alb.StateInitial, "Elb.RegistrationInProgress", "Target registration is in progress"},
		{"UP", "L7OK", "200", alb.StateHealthy, "", ""},
		{"UP 1/2", "L7STS", "500", alb.StateHealthy, "", ""},
		{"DOWN", "L7STS", "403", alb.StateUnhealthy, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [403]"},
		{"DOWN 1/2", "L4CON", "", alb.StateUnhealthy, "Target.FailedHealthChecks", "Health checks failed: L4CON"},
		{"DOWN", "L6TOUT", "", alb.StateUnhealthy, "Target.Timeout", "Request timed out"},
	} {
		st, reason, desc := healthOf(map[string]string{"status": c.status, "check_status": c.check, "check_code": c.code})
		if st != c.state || reason != c.reason || desc != c.desc {
			t.Errorf("%s/%s/%s: got (%q, %q, %q), want (%q, %q, %q)", c.status, c.check, c.code, st, reason, desc, c.state, c.reason, c.desc)
		}
	}
}

func TestHAProxyAlerts(t *testing.T) {
	out := "[NOTICE]   (1) : haproxy version is 2.6.12\n[ALERT]    (1) : config : Proxy 'l': unable to set SSL curves list\nProxy 'l': unable to set SSL curves list\n[ALERT]    (1) : config : Fatal errors found in configuration.\n"
	if got := haproxyAlerts([]byte(out)); got != "Proxy 'l': unable to set SSL curves list" {
		t.Errorf("haproxyAlerts = %q", got)
	}
}

func TestHAProxyClaims(t *testing.T) {
	target := &HAProxyTarget{}
	for _, b := range catalog.All() {
		ok, why := target.Claims(b.ID)
		if b.Profile != catalog.ALB {
			if ok {
				t.Errorf("%s: the haproxy target claims a %s behaviour", b.ID, b.Profile)
			}
			continue
		}
		if !ok && strings.TrimSpace(why) == "" {
			t.Errorf("%s: unclaimed without a reason", b.ID)
		}
	}
	for _, id := range []catalog.ID{"A-MODE-1", "A-MODE-2", "A-HDR-1", "A-HDR-2", "A-TG-1"} {
		if ok, why := target.Claims(id); !ok {
			t.Errorf("%s: not claimed (%s)", id, why)
		}
	}
	if ok, _ := target.Supports(catalog.ConnectionLog); ok {
		t.Error("the haproxy target does not write ALB's connection log")
	}
}

// TestHAProxyKeepsHealthAcrossApply runs HAProxy (when installed): a target found unhealthy stays
// unhealthy through a reload that leaves its group alone, and gets no traffic right after it.
func TestHAProxyKeepsHealthAcrossApply(t *testing.T) {
	if _, err := daemon.Lookup("haproxy"); err != nil {
		t.Skip("haproxy not installed (apt-get install -y haproxy)")
	}
	g := gomega.NewWithT(t)
	ctx := context.Background()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	dir := t.TempDir()
	g.Expect(pki.WriteDir(dir)).To(gomega.Succeed())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(gomega.HaveOccurred())
	dead := ln.Addr().(*net.TCPAddr).Port
	g.Expect(ln.Close()).To(gomega.Succeed())
	cfg := func(policy string) alb.Config {
		return alb.Config{
			Listeners: []alb.Listener{{Protocol: "HTTPS", SslPolicy: policy,
				Certificates:   []alb.Certificate{{CertificateFile: filepath.Join(dir, "server.crt"), PrivateKeyFile: filepath.Join(dir, "server.key")}},
				DefaultActions: []alb.Action{{Type: "forward", TargetGroupArn: "echo"}}}},
			TargetGroups: []alb.TargetGroup{{TargetGroupName: "echo", Protocol: "HTTP",
				Targets:         []alb.Target{{Id: ALBTargetEcho}, {Id: "127.0.0.1", Port: dead}},
				HealthCheckPath: "/status/200", HealthCheckIntervalSeconds: 0.2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2}},
		}
	}
	sys, err := (&HAProxyTarget{}).StartALB(ctx, ALBSetup{PKI: pki, Config: cfg("ELBSecurityPolicy-TLS13-1-2-2021-06")})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	t.Cleanup(func() { _ = sys.Stop(context.Background()) })
	states := func() []string {
		hs, err := sys.TargetHealth("echo")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		var out []string
		for _, h := range hs {
			out = append(out, h.State)
		}
		return out
	}
	g.Eventually(states).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(gomega.Equal([]string{alb.StateHealthy, alb.StateUnhealthy}))
	g.Expect(sys.Apply(ctx, cfg("ELBSecurityPolicy-TLS13-1-3-2021-06"))).To(gomega.Succeed())
	g.Expect(states()).To(gomega.Equal([]string{alb.StateHealthy, alb.StateUnhealthy}), "the reload kept the group's health")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} //nolint:gosec // loopback test
	for i := range 6 {
		resp, err := c.Get(sys.ListenerURLs[0] + "/anything")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		_ = resp.Body.Close()
		g.Expect(resp.StatusCode).To(gomega.Equal(http.StatusOK), "request %d right after the reload", i)
	}
	// A changed group starts afresh: its targets are checked again from the initial state.
	changed := cfg("ELBSecurityPolicy-TLS13-1-3-2021-06")
	changed.TargetGroups[0].Matcher.HttpCode = "200-299"
	g.Expect(sys.Apply(ctx, changed)).To(gomega.Succeed())
	g.Eventually(states).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(gomega.Equal([]string{alb.StateHealthy, alb.StateUnhealthy}))
}
