package alb_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// lockedBuffer is a connection log the test can read while the ALB writes.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

type env struct {
	pki  *fixtures.PKI
	dir  string
	echo *upstream.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0", Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close(context.Background()) })
	return &env{pki: pki, dir: dir, echo: echo}
}

func (e *env) config(mode string) alb.Config {
	port := e.echo.HTTPURL()[strings.LastIndexByte(e.echo.HTTPURL(), ':')+1:]
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	return alb.Config{
		Listeners: []alb.Listener{{
			Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			Certificates:         []alb.Certificate{{CertificateFile: filepath.Join(e.dir, "server.crt"), PrivateKeyFile: filepath.Join(e.dir, "server.key")}},
			MutualAuthentication: alb.MutualAuthentication{Mode: mode, TrustStoreArn: "ts"},
			DefaultActions:       []alb.Action{{Type: "forward", TargetGroupArn: "echo"}},
		}},
		TrustStores:  []alb.TrustStore{{Name: "ts", CaCertificatesBundleFile: filepath.Join(e.dir, "ca.crt")}},
		TargetGroups: []alb.TargetGroup{{TargetGroupName: "echo", Protocol: "HTTP", Targets: []alb.Target{{Id: "127.0.0.1", Port: p}}}},
	}
}

func (e *env) get(t *testing.T, url, identity string) (*upstream.Echo, error) {
	t.Helper()
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test client
	if identity != "" {
		c := e.pki.Get(identity).TLSCertificate()
		conf.Certificates = []tls.Certificate{c}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url + "/anything")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out upstream.Echo
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("status %d, body %s", resp.StatusCode, b)
	}
	return &out, nil
}

func TestVerifyModeEndToEnd(t *testing.T) {
	e := newEnv(t)
	log := &lockedBuffer{wrote: make(chan struct{}, 1)}
	a, err := alb.Start(t.Context(), e.config(alb.ModeVerify), alb.Options{ConnectionLog: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })

	got, err := e.get(t, a.URL(0), fixtures.Client)
	if err != nil {
		t.Fatalf("good client: %v", err)
	}
	if s := got.Headers["X-Amzn-Mtls-Clientcert-Subject"]; s != e.pki.Get(fixtures.Client).Cert.Subject.String() {
		t.Errorf("subject header %q", s)
	}
	codes := map[string]alb.Code{
		"": alb.CodeRejected, fixtures.ClientExpired: alb.CodeExpired, fixtures.ClientUnknownCA: alb.CodeUntrusted,
		fixtures.ClientRSA1024: alb.CodeTypeUnsupported, fixtures.ClientNoClientAuth: alb.CodePurposeInvalid,
		fixtures.ClientDeepChain: alb.CodeMaxChainDepthExceeded, fixtures.ClientNotYetValid: alb.CodeNotYetValid,
		fixtures.ClientSHA1: alb.CodeTypeUnsupported, fixtures.ClientEd25519: alb.CodeTypeUnsupported, fixtures.ClientSelfSigned: alb.CodeUntrusted,
	}
	for name, code := range codes {
		if _, err := e.get(t, a.URL(0), name); err == nil {
			t.Errorf("%q: request succeeded, want a handshake failure (%s)", name, code)
		}
	}
	want := len(codes) + 1
	deadline := time.After(5 * time.Second)
	for len(log.lines()) < want {
		select {
		case <-deadline:
			t.Fatalf("connection log has %d lines, want %d", len(log.lines()), want)
		case <-log.wrote:
		}
	}
	bySubject := map[string]string{}
	for _, l := range log.lines() {
		entry, err := alb.ParseLogLine(l)
		if err != nil {
			t.Fatal(err)
		}
		bySubject[entry.Subject] = entry.VerifyStatus
	}
	for name, code := range codes {
		subject := ""
		if name != "" {
			subject = e.pki.Get(name).Cert.Subject.String()
		}
		if got := bySubject[subject]; got != "Failed:"+string(code) {
			t.Errorf("%q: logged %q, want Failed:%s", name, got, code)
		}
	}
	// Revocation added by a reload.
	if _, err := e.get(t, a.URL(0), fixtures.ClientRevoked); err != nil {
		t.Fatalf("revoked client before the CRL: %v", err)
	}
	cfg := e.config(alb.ModeVerify)
	cfg.TrustStores[0].RevocationContents = []alb.RevocationContents{{File: filepath.Join(e.dir, "crl.pem")}}
	if err := a.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(t, a.URL(0), fixtures.ClientRevoked); err == nil {
		t.Fatal("revoked client connected after the CRL was added")
	}
	bad := e.config(alb.ModeVerify)
	bad.TrustStores[0].RevocationContents = []alb.RevocationContents{{File: filepath.Join(e.dir, "crl-corrupt.pem")}}
	if err := a.Reload(t.Context(), bad); err == nil || !strings.Contains(err.Error(), alb.ErrTextInvalidRevocation) {
		t.Fatalf("corrupt CRL: err %v", err)
	}
	if _, err := e.get(t, a.URL(0), fixtures.ClientRevoked); err == nil {
		t.Fatal("a bad reload dropped the CRL")
	}
}

// TestTargetSeesTheClientsAcceptEncoding: ALB adds no Accept-Encoding of its own, so a target
// sees the client's choice (none, or its own list) and compresses accordingly.
func TestTargetSeesTheClientsAcceptEncoding(t *testing.T) {
	e := newEnv(t)
	a, err := alb.Start(t.Context(), e.config(alb.ModeVerify), alb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	conf := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{e.pki.Get(fixtures.Client).TLSCertificate()}} //nolint:gosec // test client
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, DisableCompression: true, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for _, sent := range []string{"", "br"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL(0)+"/anything", nil)
		if err != nil {
			t.Fatal(err)
		}
		if sent != "" {
			req.Header.Set("Accept-Encoding", sent)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got upstream.Echo
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("status %d, body %s", resp.StatusCode, b)
		}
		if v := got.Headers["Accept-Encoding"]; v != sent {
			t.Errorf("client sent Accept-Encoding %q; the target saw %q", sent, v)
		}
	}
}
