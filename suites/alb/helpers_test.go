package alb_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
	"github.com/mtlsgate/mtlsgate/reports"
)

// Names the configurations use.
const (
	trustStore = "clients"
	echoGroup  = "echo"
	apiHost    = "api.example.test"
)

// pkiFile is the path of a file of the written PKI.
func pkiFile(name string) string { return filepath.Join(pkiDir, name) }

// writeFile writes content to a fresh file and returns its path.
func writeFile(name, content string) string {
	p := filepath.Join(GinkgoT().TempDir(), name)
	ExpectWithOffset(1, os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
	return p
}

// bundleOf writes a CA bundle of the named identities' certificates.
func bundleOf(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.Write(pki.Get(n).CertPEM())
	}
	return writeFile("bundle.pem", b.String())
}

// config is one HTTPS listener in mode forwarding to the echo, with the trust store "clients"
// holding ca and ca-rsa; health checks are off unless a spec turns them on.
func config(mode string, tweak ...func(*alb.Config)) alb.Config {
	off := false
	cfg := alb.Config{
		Listeners: []alb.Listener{{
			Port: 0, Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			Certificates:         []alb.Certificate{{CertificateFile: pkiFile("server.crt"), PrivateKeyFile: pkiFile("server.key")}},
			MutualAuthentication: alb.MutualAuthentication{Mode: mode},
			DefaultActions:       []alb.Action{{Type: "forward", TargetGroupArn: echoGroup}},
		}},
		TrustStores: []alb.TrustStore{{Name: trustStore, CaCertificatesBundleFile: bundleOf(fixtures.RootCA, fixtures.RSARootCA)}},
		TargetGroups: []alb.TargetGroup{{TargetGroupName: echoGroup, Protocol: "HTTP", HealthCheckEnabled: &off,
			Targets: []alb.Target{{Id: harness.ALBTargetEcho}}}},
	}
	if mode == alb.ModeVerify {
		cfg.Listeners[0].MutualAuthentication.TrustStoreArn = trustStore
	}
	for _, t := range tweak {
		t(&cfg)
	}
	return cfg
}

// withCRL adds revocation files to the trust store.
func withCRL(files ...string) func(*alb.Config) {
	return func(c *alb.Config) {
		for _, f := range files {
			c.TrustStores[0].RevocationContents = append(c.TrustStores[0].RevocationContents, alb.RevocationContents{File: f, RevocationType: "CRL"})
		}
	}
}

// withPolicy sets the listener's security policy.
func withPolicy(name string) func(*alb.Config) {
	return func(c *alb.Config) { c.Listeners[0].SslPolicy = name }
}

// start runs a system with cfg for the current spec and stops it afterwards.
func start(ctx context.Context, cfg alb.Config, domains ...apigw.Domain) *harness.ALBSystem {
	ExpectWithOffset(1, at).NotTo(BeNil(), "the target claims ALB behaviours but cannot start an ALB system (it is not a harness.ALBTarget)")
	sys, err := at.StartALB(ctx, harness.ALBSetup{PKI: pki, Config: cfg, Domains: domains})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	DeferCleanup(sys.Stop)
	AddReportEntry(reports.TargetVersionEntry, sys.Version)
	return sys
}

// response is one exchange through the load balancer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	Echo   *upstream.Echo
	TLS    *tls.ConnectionState
}

// client presents identity ("" for none) and trusts any server certificate, like curl -k. Each
// request is a fresh connection (a fresh handshake), so nothing pooled hides a change.
func client(identity string, tweak ...func(*tls.Config)) *http.Client {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // like curl -k: the specs check the client side
	if identity != "" {
		cert := pki.Get(identity).TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	for _, t := range tweak {
		t(conf)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true},
		Timeout:   15 * time.Second,
	}
}

// tls12Only makes a client speak TLS 1.2 and nothing newer.
func tls12Only(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 }

// fetch sends a GET and returns the answer, or the error when there is no HTTP response at all
// (a failed handshake).
func fetch(ctx context.Context, c *http.Client, url string, header ...string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	out := response{Status: resp.StatusCode, Header: resp.Header, Body: b, TLS: resp.TLS}
	var e upstream.Echo
	if json.Unmarshal(b, &e) == nil && e.Method != "" {
		out.Echo = &e
	}
	return out, nil
}

// ok fetches and expects an answer (any status).
func ok(ctx context.Context, c *http.Client, url string, header ...string) response {
	r, err := fetch(ctx, c, url, header...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "GET %s: want an HTTP answer", url)
	return r
}

// refused expects the request to get no HTTP answer: the TLS handshake (or the connection right
// after it, under TLS 1.3) fails.
func refused(ctx context.Context, c *http.Client, url string) error {
	r, err := fetch(ctx, c, url)
	ExpectWithOffset(1, err).To(HaveOccurred(), "GET %s: want a failed handshake, got HTTP %d %s", url, r.Status, r.Body)
	return err
}

// logLines waits until the system's connection log holds n lines and returns them parsed, in
// the order the connections began.
func logLines(sys *harness.ALBSystem, n int) []alb.LogEntry {
	EventuallyWithOffset(1, func() []string { return sys.ConnectionLog() }).WithTimeout(5*time.Second).WithPolling(10*time.Millisecond).
		Should(HaveLen(n), "the connection log should hold one line per connection")
	return parseLog(sys.ConnectionLog())
}

// parseLog parses connection-log lines and orders them by when each connection began (lines are
// written when handshakes end).
func parseLog(lines []string) []alb.LogEntry {
	var out []alb.LogEntry
	for _, l := range lines {
		e, err := alb.ParseLogLine(l)
		ExpectWithOffset(2, err).NotTo(HaveOccurred())
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b alb.LogEntry) int { return a.Time.Compare(b.Time) })
	return out
}

// writesConnectionLog reports whether the target writes ALB's connection log (SPEC A-LOG-1).
// Specs of other IDs check the log only then, and say so in the report when they cannot; the
// A-LOG-1 specs themselves are skipped as not supported for such a target.
func writesConnectionLog() bool {
	ok, why := target.Supports(catalog.ConnectionLog)
	if !ok {
		AddReportEntry("connection log not checked", why)
	}
	return ok
}

// expectLogged checks, where the target writes the connection log, that connection n (1-based,
// in the order connections began) was logged with status.
func expectLogged(sys *harness.ALBSystem, n int, status string, what ...any) {
	if writesConnectionLog() {
		ExpectWithOffset(1, lastStatus(sys, n)).To(Equal(status), what...)
	}
}

// lastStatus waits for the connection log line of connection n (1-based) and returns its status.
func lastStatus(sys *harness.ALBSystem, n int) string {
	EventuallyWithOffset(2, func() int { return len(sys.ConnectionLog()) }).WithTimeout(5*time.Second).WithPolling(10*time.Millisecond).
		Should(BeNumerically(">=", n), "the connection log should hold a line for connection %d", n)
	return parseLog(sys.ConnectionLog())[n-1].VerifyStatus
}

// anything is the echo path the specs request.
func anything(sys *harness.ALBSystem) string { return sys.ListenerURLs[0] + "/anything" }

// dial runs only a TLS handshake against the first listener, presenting identity, and reads
// until the server answers or closes, so a rejection after a TLS 1.3 handshake shows too.
func dial(ctx context.Context, sys *harness.ALBSystem, identity string, tweak ...func(*tls.Config)) error {
	conf := client(identity, tweak...).Transport.(*http.Transport).TLSClientConfig
	d := &tls.Dialer{Config: conf}
	c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /anything HTTP/1.1\r\nHost: alb\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	_, err = io.ReadAll(c)
	return err
}
