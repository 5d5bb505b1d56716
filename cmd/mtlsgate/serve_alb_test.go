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
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/reference/alb"
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

// albTestbed writes a fresh PKI to a temporary directory and starts an echo upstream for the
// target group, both gone when the test ends; it returns the PKI, the directory and the echo's
// port.
func albTestbed(ctx context.Context, t *testing.T) (*fixtures.PKI, string, string) {
	t.Helper()
	g := NewWithT(t)
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	g.Expect(pki.WriteDir(dir)).To(Succeed())
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0"})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = echo.Close(context.Background()) })
	return pki, dir, echo.HTTPURL()[strings.LastIndexByte(echo.HTTPURL(), ':')+1:]
}

// tlsGet makes one request to url on a new connection, presenting identity's certificate (none
// when identity is empty); an error is a refused handshake or request.
func tlsGet(pki *fixtures.PKI, url, identity string) error {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test client
	if identity != "" {
		conf.Certificates = []tls.Certificate{pki.Get(identity).TLSCertificate()}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: conf}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestServeALBReloadsWhenACRLChanges runs `serve alb`, replaces the CRL file in place, and
// checks that the next handshake sees it, and that a corrupt replacement keeps the last good one.
func TestServeALBReloadsWhenACRLChanges(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, dir, echoPort := albTestbed(ctx, t)
	crl := filepath.Join(dir, "live.pem")
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

	get := func(identity string) error { return tlsGet(pki, url, identity) }
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

// TestServeALBControlAPI drives `serve alb --status-listen`: readiness, target health, a
// configuration by POST (a bad one refused with the emulator's error and nothing changed), the
// connection log as lines, followed, and as the file.
func TestServeALBControlAPI(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, dir, echoPort := albTestbed(ctx, t)
	conf := func(mode, crl string) string {
		s := `Listeners:
  - Port: 0
    Protocol: HTTPS
    Certificates: [{CertificateFile: ` + filepath.Join(dir, "server.crt") + `, PrivateKeyFile: ` + filepath.Join(dir, "server.key") + `}]
    MutualAuthentication: {Mode: ` + mode + `, TrustStoreArn: ts}
    DefaultActions: [{Type: forward, TargetGroupArn: echo}]
TrustStores:
  - Name: ts
    CaCertificatesBundleFile: ` + filepath.Join(dir, "ca.crt") + `
`
		if crl != "" {
			s += "    RevocationContents: [{File: " + crl + "}]\n"
		}
		return s + `TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckPath: /status/200
    HealthCheckIntervalSeconds: 0.05
    HealthyThresholdCount: 2
    Targets: [{Id: 127.0.0.1, Port: ` + echoPort + `}]
ConnectionLogs: {Path: ` + filepath.Join(dir, "connections.log") + `}
`
	}
	g.Expect(os.WriteFile(filepath.Join(dir, "alb.yaml"), []byte(conf("verify", "")), 0o644)).To(Succeed())

	stdout, outLines := lines(t)
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "alb", "--config", filepath.Join(dir, "alb.yaml"), "--watch-interval", "0", "--status-listen", "127.0.0.1:0"}, stdout, stderr)
		stdout.Close()
	}()
	listener := strings.Fields(waitLine(t, outLines, "alb listener 0"))
	url := listener[len(listener)-1] + "/anything"
	ctl := strings.TrimSpace(strings.TrimPrefix(waitLine(t, outLines, "alb control "), "alb control "))
	go func() {
		for range outLines { //nolint:revive // drain
		}
	}()

	call := func(method, path, body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, method, ctl+path, strings.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/yaml")
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := func(identity string) error { return tlsGet(pki, url, identity) }

	code, body := call("GET", "/status/ready", "")
	g.Expect(code).To(Equal(200), body)
	g.Eventually(func() string { _, b := call("GET", "/target-health?group=echo", ""); return b }).WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).
		Should(ContainSubstring(`"State":"healthy"`))
	code, body = call("GET", "/target-health?group=nope", "")
	g.Expect(code).To(Equal(404))
	g.Expect(body).To(ContainSubstring(`no target group "nope"`))

	// A follower sees every line, the ones before it connected too.
	followReq, err := http.NewRequestWithContext(ctx, "GET", ctl+"/connection-log?follow=true", nil)
	g.Expect(err).NotTo(HaveOccurred())
	followResp, err := http.DefaultClient.Do(followReq)
	g.Expect(err).NotTo(HaveOccurred())
	defer followResp.Body.Close()
	followed := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(followResp.Body)
		for sc.Scan() {
			followed <- sc.Text()
		}
		close(followed)
	}()

	g.Expect(get(fixtures.ClientRevoked)).To(Succeed(), "no CRL yet")
	g.Expect(get("")).NotTo(Succeed(), "verify mode wants a certificate")

	code, body = call("POST", "/config", conf("verfy", filepath.Join(dir, "crl.pem")))
	g.Expect(code).To(Equal(400))
	g.Expect(body).To(ContainSubstring(`MutualAuthentication.Mode "verfy"`))
	g.Expect(body).To(ContainSubstring("previous configuration stays"))
	code, _ = call("POST", "/config", "Listeners: [{Prot: HTTPS}]\n")
	g.Expect(code).To(Equal(400), "an unknown key is refused")
	g.Expect(get(fixtures.ClientRevoked)).To(Succeed(), "the refused configurations changed nothing")

	code, body = call("POST", "/config", conf("verify", filepath.Join(dir, "crl.pem")))
	g.Expect(code).To(Equal(204), body)
	g.Expect(get(fixtures.ClientRevoked)).NotTo(Succeed(), "the posted CRL is in force")
	g.Expect(get(fixtures.Client)).To(Succeed())

	want := []string{"Success", "Failed:ClientCertRejected", "Success", "Failed:ClientCertCrlHit", "Success"}
	var got []string
	for range want {
		select {
		case l := <-followed:
			e, err := alb.ParseLogLine(l)
			g.Expect(err).NotTo(HaveOccurred())
			got = append(got, e.VerifyStatus)
		case <-time.After(5 * time.Second):
			t.Fatalf("the follower got %v, want %v", got, want)
		}
	}
	g.Expect(got).To(ConsistOf(want))
	_, lines := call("GET", "/connection-log", "")
	g.Expect(strings.Split(strings.TrimSpace(lines), "\n")).To(HaveLen(5))
	_, file := call("GET", "/connection-log/file", "")
	g.Expect(file).To(Equal(lines), "the file holds the same lines")

	cancel()
	g.Eventually(done).WithTimeout(10*time.Second).Should(Receive(BeNil()), "a follower must not hold up shutdown")
}

// TestServeALBControlAPIGuards checks what keeps browsers and bad files out of the control API
// (issue 13): foreign Host headers, simple-request content types, the token, files outside
// --control-root, and files that are not regular files. Nothing refused changes anything.
func TestServeALBControlAPIGuards(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	g.Expect(pki.WriteDir(dir)).To(Succeed())
	conf := func(bundle, logPath string) string {
		return `Listeners:
  - Port: 0
    Protocol: HTTPS
    Certificates: [{CertificateFile: server.crt, PrivateKeyFile: server.key}]
    MutualAuthentication: {Mode: verify, TrustStoreArn: ts}
    DefaultActions: [{Type: forward, TargetGroupArn: echo}]
TrustStores:
  - Name: ts
    CaCertificatesBundleFile: ` + bundle + `
TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1, Port: 9}]
ConnectionLogs: {Path: ` + logPath + `}
`
	}
	g.Expect(os.WriteFile(filepath.Join(dir, "alb.yaml"), []byte(conf("ca.crt", "connections.log")), 0o644)).To(Succeed())
	g.Expect(os.Symlink("/etc/passwd", filepath.Join(dir, "escape.crt"))).To(Succeed())
	g.Expect(syscall.Mkfifo(filepath.Join(dir, "fifo.crt"), 0o600)).To(Succeed())

	stdout, outLines := lines(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "alb", "--config", filepath.Join(dir, "alb.yaml"), "--watch-interval", "0",
			"--status-listen", "127.0.0.1:0", "--status-token", "s3cret"}, stdout, &syncBuffer{})
		stdout.Close()
	}()
	ctl := strings.TrimSpace(strings.TrimPrefix(waitLine(t, outLines, "alb control "), "alb control "))
	go func() {
		for range outLines { //nolint:revive // drain
		}
	}()
	call := func(method, path, host, contentType, token, body string) (int, string, http.Header) {
		req, err := http.NewRequestWithContext(ctx, method, ctl+path, strings.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		if host != "" {
			req.Host = host
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	const yml = "application/yaml"
	code, _, _ := call("GET", "/status/ready", "", "", "", "")
	g.Expect(code).To(Equal(200), "the readiness probe needs no token")
	code, _, _ = call("GET", "/connection-log", "", "", "", "")
	g.Expect(code).To(Equal(401), "no token")
	code, _, _ = call("GET", "/connection-log", "", "", "wrong", "")
	g.Expect(code).To(Equal(401), "a wrong token")
	code, _, h := call("GET", "/connection-log", "localhost", "", "s3cret", "")
	g.Expect(code).To(Equal(200))
	g.Expect(h.Get("Access-Control-Allow-Origin")).To(BeEmpty())
	code, body, _ := call("GET", "/connection-log", "evil.example:8100", "", "s3cret", "")
	g.Expect(code).To(Equal(403), "a DNS-rebinding Host")
	g.Expect(body).To(ContainSubstring("DNS rebinding"))

	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		code, _, _ = call("POST", "/config", "", ct, "s3cret", conf("ca.crt", "other.log"))
		g.Expect(code).To(Equal(415), "Content-Type %q is a CORS simple request", ct)
	}
	for _, bad := range []struct{ bundle, log, want string }{
		{"/etc/passwd", "connections.log", "under " + dir},
		{"escape.crt", "connections.log", "under " + dir},
		{"ca.crt", "/tmp/elsewhere.log", "ConnectionLogs.Path"},
		{"ca.crt", "../outside.log", "ConnectionLogs.Path"},
		{"fifo.crt", "connections.log", "not a regular file"},
	} {
		code, body, _ = call("POST", "/config", "", yml, "s3cret", conf(bad.bundle, bad.log))
		g.Expect(code).To(Equal(400), "%+v", bad)
		g.Expect(body).To(ContainSubstring(bad.want), "%+v", bad)
		g.Expect(body).NotTo(ContainSubstring("root:"), "no file content in errors")
	}
	_, err = os.Stat("/tmp/elsewhere.log")
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "a refused configuration creates no file")
	code, body, _ = call("POST", "/config", "", yml, "s3cret", conf("ca.crt", "connections.log"))
	g.Expect(code).To(Equal(204), body)

	// The typed client the harness uses speaks the same API: the token, a refusal in the
	// server's words, target health by group.
	typed := &alb.ControlClient{Client: controlapi.Client{Base: ctl, Token: "s3cret"}}
	cfg, err := alb.ReadFile(filepath.Join(dir, "alb.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(typed.Apply(ctx, cfg)).To(Succeed())
	cfg.TrustStores[0].CaCertificatesBundleFile = "/etc/passwd"
	g.Expect(typed.Apply(ctx, cfg)).To(MatchError(ContainSubstring("under " + dir)))
	hs, err := typed.TargetHealth(ctx, "echo")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(hs).To(HaveLen(1))
	_, err = (&alb.ControlClient{Client: controlapi.Client{Base: ctl}}).TargetHealth(ctx, "echo")
	g.Expect(err).To(MatchError(ContainSubstring("--status-token")), "no token")

	cancel()
	g.Eventually(done).WithTimeout(10 * time.Second).Should(Receive(BeNil()))
}

// TestServeALBControlAPIRestart: POST /restart refuses a bad configuration and changes nothing;
// a good one stops the load balancer (its connections close) and starts a new one from the
// body, on the same port, with an empty connection log, as a new process would.
func TestServeALBControlAPIRestart(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, dir, echoPort := albTestbed(ctx, t)
	conf := func(port, mode string) string {
		return `Listeners:
  - Port: ` + port + `
    Address: 127.0.0.1
    Protocol: HTTPS
    Certificates: [{CertificateFile: server.crt, PrivateKeyFile: server.key}]
    MutualAuthentication: {Mode: ` + mode + `, TrustStoreArn: ts}
    DefaultActions: [{Type: forward, TargetGroupArn: echo}]
TrustStores:
  - Name: ts
    CaCertificatesBundleFile: ca.crt
TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckEnabled: false
    Targets: [{Id: 127.0.0.1, Port: ` + echoPort + `}]
`
	}
	g.Expect(os.WriteFile(filepath.Join(dir, "alb.yaml"), []byte(conf("0", "verify")), 0o644)).To(Succeed())
	stdout, outLines := lines(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "alb", "--config", filepath.Join(dir, "alb.yaml"), "--watch-interval", "0", "--status-listen", "127.0.0.1:0"}, stdout, &syncBuffer{})
		stdout.Close()
	}()
	listener := strings.Fields(waitLine(t, outLines, "alb listener 0"))
	base := listener[len(listener)-1]
	port := base[strings.LastIndexByte(base, ':')+1:]
	ctl := strings.TrimSpace(strings.TrimPrefix(waitLine(t, outLines, "alb control "), "alb control "))
	go func() {
		for range outLines { //nolint:revive // drain
		}
	}()
	typed := &alb.ControlClient{Client: controlapi.Client{Base: ctl}}
	logLines := func() []string {
		b, err := typed.Do(ctx, "GET", alb.ControlPathConnectionLog, "", nil)
		g.Expect(err).NotTo(HaveOccurred())
		if s := strings.TrimSpace(string(b)); s != "" {
			return strings.Split(s, "\n")
		}
		return nil
	}

	// A connection held open across the restarts; it and a refused handshake are logged.
	held, err := tls.Dial("tcp", base[len("https://"):], &tls.Config{InsecureSkipVerify: true, //nolint:gosec // test client
		Certificates: []tls.Certificate{pki.Get(fixtures.Client).TLSCertificate()}})
	g.Expect(err).NotTo(HaveOccurred())
	defer held.Close()
	g.Expect(tlsGet(pki, base+"/anything", "")).NotTo(Succeed(), "verify mode wants a certificate")
	g.Eventually(logLines).WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).Should(HaveLen(2))

	bad, err := alb.Parse([]byte(conf(port, "verfy")))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(typed.Restart(ctx, bad)).To(MatchError(And(ContainSubstring(`MutualAuthentication.Mode "verfy"`), ContainSubstring("running load balancer stays"))))
	g.Expect(tlsGet(pki, base+"/anything", fixtures.Client)).To(Succeed(), "the refused restart changed nothing")
	g.Expect(held.SetReadDeadline(time.Now().Add(50 * time.Millisecond))).To(Succeed())
	_, err = held.Read(make([]byte, 1))
	g.Expect(err).To(MatchError(os.ErrDeadlineExceeded), "the held connection is still open")
	g.Expect(logLines()).NotTo(BeEmpty())

	good, err := alb.Parse([]byte(conf(port, "off")))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(typed.Restart(ctx, good)).To(Succeed())
	g.Expect(logLines()).To(BeEmpty(), "the new load balancer starts with an empty connection log")
	g.Expect(held.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
	_, err = held.Read(make([]byte, 1))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err).NotTo(MatchError(os.ErrDeadlineExceeded), "the old load balancer's connections are closed")
	g.Expect(tlsGet(pki, base+"/anything", "")).To(Succeed(), "the new configuration (mode off) is in force on the same port")
	g.Eventually(logLines).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(HaveLen(1), "only the new load balancer's connection")

	cancel()
	g.Eventually(done).WithTimeout(10 * time.Second).Should(Receive(BeNil()))
}
