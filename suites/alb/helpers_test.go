package alb_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
	"github.com/mtlsgate/mtlsgate/suites/framework"
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
	AddReportEntry(conformance.TargetVersionEntry, sys.Version, ReportEntryVisibilityNever)
	return sys
}

// response is one exchange through the load balancer (framework.Response) and the connection
// it went over.
type response struct {
	framework.Response
	// Conn is the connection it went over, to find its connection-log line.
	Conn conn
}

// conn is one connection the suite made: how to find the load balancer's connection-log line
// for it, and how it ended (Err is nil when the server answered).
type conn struct {
	// Port is the client port of the suite's socket ("" if the dial failed).
	Port string
	// Began and Ended bracket the attempt: the load balancer began its handshake in between.
	// Ended is zero when the suite did not wait for the server (a connection closed at once).
	Began, Ended time.Time
	Err          error
}

// client is the framework's client presenting identity ("" for none); tweak adjusts its TLS.
func client(identity string, tweak ...func(*tls.Config)) *http.Client {
	var cert *tls.Certificate
	if identity != "" {
		c := pki.Get(identity).TLSCertificate()
		cert = &c
	}
	return framework.NewClient(framework.ClientOptions{Certificate: cert, TLS: tweak})
}

// portOf is the port of a socket address.
func portOf(a net.Addr) string { return framework.PortOf(a) }

// tls12Only makes a client speak TLS 1.2 and nothing newer.
func tls12Only(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 }

// fetch sends a GET and returns the answer, or the error when there is no HTTP response at all
// (a failed handshake); the response's Conn is set either way.
func fetch(ctx context.Context, c *http.Client, url string, header ...string) (response, error) {
	cn := conn{Began: time.Now()}
	r, err := framework.Get(framework.WithClientPort(ctx, &cn.Port), c, url, header...)
	ExpectWithOffset(1, errors.Is(err, framework.ErrBuildRequest)).To(BeFalse(), "%v", err)
	cn.Ended = time.Now()
	cn.Err = err
	return response{Response: r, Conn: cn}, err
}

// ok fetches and expects an answer (any status).
func ok(ctx context.Context, c *http.Client, url string, header ...string) response {
	r, err := fetch(ctx, c, url, header...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "GET %s: want an HTTP answer", url)
	return r
}

// refused expects the request to get no HTTP answer: the TLS handshake (or the connection right
// after it, under TLS 1.3) fails. The connection's Err says how.
func refused(ctx context.Context, c *http.Client, url string) conn {
	r, err := fetch(ctx, c, url)
	ExpectWithOffset(1, err).To(HaveOccurred(), "GET %s: want a failed handshake, got HTTP %d %s", url, r.Status, r.Body)
	return r.Conn
}

// logged waits until the connection log holds the line of each connection and returns those
// lines in the order of conns. It waits for the lines of these connections, not for a number of
// lines: another connection's line arriving first must not stand in for one still being written.
func logged(sys *harness.ALBSystem, conns ...conn) []alb.LogEntry {
	byPort := seesOwnPorts(sys)
	var out []alb.LogEntry
	EventuallyWithOffset(1, func(g Gomega) {
		out = out[:0]
		entries := parseLog(g, sys.ConnectionLog())
		for _, c := range conns {
			var hits []alb.LogEntry
			for _, e := range entries {
				if byPort && c.Port != "" && e.ClientPort == c.Port || (!byPort || c.Port == "") && c.began(e.Time) {
					hits = append(hits, e)
				}
			}
			g.Expect(hits).To(HaveLen(1), "one connection-log line for the connection from client port %s (began %s, ended %s); the log so far:\n%s",
				c.Port, c.Began.Format(time.RFC3339Nano), c.Ended.Format(time.RFC3339Nano), strings.Join(sys.ConnectionLog(), "\n"))
			out = append(out, hits[0])
		}
	}).WithTimeout(framework.EventuallyTimeout).WithPolling(framework.PollInterval).Should(Succeed())
	return out
}

// seesOwnPorts reports whether the load balancer sees the suite's own sockets, so a log line's
// client port names the connection. A container's published ports are forwarded by a proxy
// with sockets of its own; there a connection is known by when it began instead.
func seesOwnPorts(sys *harness.ALBSystem) bool {
	ip := net.ParseIP(sys.ClientIP)
	return ip != nil && ip.IsLoopback()
}

// began reports whether the load balancer's handshake that started at t can be this connection's:
// it started after the suite began the connection and before the suite saw the end of it.
func (c conn) began(t time.Time) bool {
	return !t.Before(c.Began.Truncate(time.Microsecond)) && (c.Ended.IsZero() || !t.After(c.Ended))
}

// parseLog parses connection-log lines.
func parseLog(g Gomega, lines []string) []alb.LogEntry {
	var out []alb.LogEntry
	for _, l := range lines {
		e, err := alb.ParseLogLine(l)
		g.Expect(err).NotTo(HaveOccurred())
		out = append(out, e)
	}
	return out
}

// writesConnectionLog reports whether the target writes ALB's connection log (SPEC A-LOG-1).
// Specs of other IDs check the log only then, and say so in the report when they cannot; the
// A-LOG-1 specs themselves are skipped as not supported for such a target.
func writesConnectionLog() bool {
	ok, why := target.Supports(catalog.ConnectionLog)
	if !ok {
		AddReportEntry("connection log not checked", why, ReportEntryVisibilityFailureOrVerbose)
	}
	return ok
}

// expectLogged checks, where the target writes the connection log, that connection c was logged
// with status; what describes the connection in a failure message.
func expectLogged(sys *harness.ALBSystem, c conn, status string, what ...any) {
	if writesConnectionLog() {
		ExpectWithOffset(1, logged(sys, c)[0].VerifyStatus).To(Equal(status), what...)
	}
}

// anything is the echo path the specs request.
func anything(sys *harness.ALBSystem) string { return sys.ListenerURLs[0] + "/anything" }

// dial runs only a TLS handshake against the first listener, presenting identity, and reads
// until the server answers or closes, so a rejection after a TLS 1.3 handshake shows too.
func dial(ctx context.Context, sys *harness.ALBSystem, identity string, tweak ...func(*tls.Config)) conn {
	conf := framework.TLSConfig(client(identity, tweak...))
	cn := conn{Began: time.Now()}
	cn.Err = exchange(ctx, sys, conf, &cn.Port)
	cn.Ended = time.Now()
	return cn
}

// exchange is dial's connection: TCP, the handshake, one request, the answer until EOF.
func exchange(ctx context.Context, sys *harness.ALBSystem, conf *tls.Config, port *string) error {
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
	if err != nil {
		return err
	}
	*port = portOf(raw.LocalAddr())
	c := tls.Client(raw, conf)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(framework.HandshakeDeadline))
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET /anything HTTP/1.1\r\nHost: alb\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	_, err = io.ReadAll(c)
	return err
}

// refusedNaming matches a refused configuration whose error names the setting, in
// reference/alb's YAML wording or in the ELBv2 API's (the reference is configured through the
// API, and there AWS's error is the answer).
func refusedNaming(yaml, api string) types.GomegaMatcher {
	return MatchError(Or(ContainSubstring(yaml), ContainSubstring(api)))
}
