package kong_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gomegatypes "github.com/onsi/gomega/types"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// response is one exchange with the gateway (framework.Response), with Gomega's JSON decoding.
type response struct{ framework.Response }

// JSON decodes the body as a JSON object.
func (r response) JSON() map[string]any {
	m, err := r.Response.JSON()
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return m
}

// client is the framework's client presenting identity ("" for none); tweak adjusts its TLS.
func client(identity string, tweak ...func(*tls.Config)) *http.Client {
	return framework.NewClient(framework.ClientOptions{Certificate: certificate(identity), TLS: tweak})
}

// certificate is identity's certificate and chain, nil for "".
func certificate(identity string) *tls.Certificate {
	if identity == "" {
		return nil
	}
	cert := pki.Get(identity).TLSCertificate()
	return &cert
}

// protocols are the HTTP versions the key specs run over, as Go's Response.Proto names them.
var protocols = []string{framework.HTTP1, framework.HTTP2}

// clientOver is client speaking only proto, negotiated by ALPN, so a listener that does not offer
// it fails the request instead of quietly falling back.
func clientOver(proto, identity string, tweak ...func(*tls.Config)) *http.Client {
	return framework.NewClient(framework.ClientOptions{Certificate: certificate(identity), Proto: proto, TLS: tweak})
}

// withHost sets the request's Host header.
func withHost(host string) func(*http.Request) { return framework.WithHost(host) }

// do sends one request through c and reads the whole answer; no answer fails the spec.
func do(ctx context.Context, c *http.Client, method, rawURL string, header http.Header, body io.Reader, tweak ...func(*http.Request)) response {
	r, err := framework.Do(ctx, c, method, rawURL, header, body, tweak...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s %s", method, rawURL)
	return response{r}
}

// get is do with GET, no body and the header as name, value pairs.
func get(ctx context.Context, c *http.Client, rawURL string, header ...string) response {
	r, err := framework.Get(ctx, c, rawURL, header...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "GET %s", rawURL)
	return response{r}
}

// adminRaw sends a raw Admin API request and returns the answer, for specs about error shapes.
func adminRaw(ctx context.Context, method, path, contentType string, body []byte) response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return do(ctx, http.DefaultClient, method, sys.AdminURL+path, h, bytes.NewReader(body))
}

// adminForm sends an urlencoded Admin API request, as curl --data does.
func adminForm(ctx context.Context, method, path string, form url.Values) response {
	return adminRaw(ctx, method, path, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// adminMultipart sends a multipart Admin API request, as curl -F does; files maps a field to
// file contents.
func adminMultipart(ctx context.Context, method, path string, fields map[string]string, files map[string][]byte) response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		ExpectWithOffset(1, mw.WriteField(k, v)).To(Succeed())
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".pem")
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		_, _ = fw.Write(v)
	}
	ExpectWithOffset(1, mw.Close()).To(Succeed())
	return adminRaw(ctx, method, path, mw.FormDataContentType(), buf.Bytes())
}

func certPEM(name string) string { return string(pki.Get(name).CertPEM()) }

func digest(name string) string {
	sum := sha256.Sum256(pki.Get(name).DER)
	return hex.EncodeToString(sum[:])
}

// must fails the spec on err and returns v.
func must[T any](v T, err error) T {
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return v
}

// echoRoute creates a service for the plain echo upstream (path /anything) and a route for
// paths, returning the service.
func echoRoute(ctx context.Context, name string, paths ...string) *kongapi.Service {
	svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: name, URL: sys.EchoURL + "/anything"}))
	must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: name, Paths: paths, Service: &kongapi.Ref{ID: svc.ID}}))
	return svc
}

// mtlsAuth enables a global mtls-auth plugin trusting the root CA, with extra config, and a
// route /mtls to the echo (the README walkthrough without its consumer); it returns the CA
// certificate's id.
func mtlsAuth(ctx context.Context, config map[string]any) string {
	return must(framework.Walkthrough{
		CAPEM: pki.Get(fixtures.RootCA).CertPEM(), Plugin: config,
		Name: "echo", ServiceURL: sys.EchoURL + "/anything", Paths: []string{"/mtls"},
	}.Apply(ctx, sys.Admin)).CAID
}

// consumer creates a consumer; empty fields stay unset.
func consumer(ctx context.Context, username, customID string) *kongapi.Consumer {
	return must(sys.Admin.CreateConsumer(ctx, kongapi.Consumer{Username: username, CustomID: customID}))
}

// viaTLS requests the TLS proxy with identity and returns the answer.
func viaTLS(ctx context.Context, identity, path string, header ...string) response {
	return get(ctx, client(identity), sys.ProxyTLSURL+path, header...)
}

// jsonBody encodes v as a JSON request body.
func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }

// snapshot lists every entity of the Admin API, to show that a rejected call changed nothing.
func snapshot(ctx context.Context) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, coll := range []string{"ca_certificates", "certificates", "snis", "services", "routes", "consumers", "plugins", "mtls-auths"} {
		out[coll] = must(sys.Admin.List(ctx, "/"+coll))
	}
	return out
}

// fieldsWant maps the keys of an error's "fields" to what each must match.
type fieldsWant map[string]gomegatypes.GomegaMatcher

// startKong starts a dedicated system with extra kong.conf lines (for specs about kong.conf
// itself); it is stopped when the spec or container ends.
func startKong(ctx context.Context, conf ...string) *harness.KongSystem {
	s, err := kt.StartKong(ctx, harness.KongSetup{PKI: pki, Conf: conf})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	DeferCleanup(s.Stop)
	return s
}

// file is the path of a PKI file, for kong.conf lines.
func file(name string) string { return filepath.Join(pkiDir, name) }

// certEntity uploads an identity as a /certificates entity (leaf and chain, key).
func certEntity(ctx context.Context, s *harness.KongSystem, identity string, snis ...string) *kongapi.Certificate {
	id := pki.Get(identity)
	key := must(id.KeyPEM())
	return must(s.Admin.CreateCertificate(ctx, kongapi.Certificate{Cert: string(id.ChainPEM()), Key: string(key), SNIs: snis}))
}

// upstreamSaw is the CN of the client certificate the echo upstream reports, "" for none.
func upstreamSaw(r response) string {
	ExpectWithOffset(1, r.Echo).NotTo(BeNil(), "no echo in %d %s", r.Status, r.Body)
	if r.Echo.TLS == nil || r.Echo.TLS.ClientCertificate == nil {
		return ""
	}
	return r.Echo.TLS.ClientCertificate.CommonName
}

// serviceTo creates a service for url and a route for path on system s.
func serviceTo(ctx context.Context, s *harness.KongSystem, name, url, path string, extra map[string]any) string {
	body := map[string]any{"name": name, "url": url}
	for k, v := range extra {
		body[k] = v
	}
	var svc map[string]any
	ExpectWithOffset(1, s.Admin.Do(ctx, http.MethodPost, "/services", body, &svc)).To(Succeed())
	must(s.Admin.CreateRoute(ctx, kongapi.Route{Name: name, Paths: []string{path}, Service: &kongapi.Ref{ID: svc["id"].(string)}}))
	return svc["id"].(string)
}

// patch PATCHes an Admin API path, failing the spec on error.
func patch(ctx context.Context, s *harness.KongSystem, path string, body map[string]any) {
	ExpectWithOffset(1, s.Admin.Patch(ctx, path, body, nil)).To(Succeed())
}

// peerCN is the CN of the certificate the gateway presented on a TLS request.
func peerCN(r response) string {
	ExpectWithOffset(1, r.TLS).NotTo(BeNil())
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

func netListenConfig() *net.ListenConfig { return &net.ListenConfig{} }

// gomegaMatcher is a Gomega matcher, for helpers that take one.
type gomegaMatcher = gomegatypes.GomegaMatcher
