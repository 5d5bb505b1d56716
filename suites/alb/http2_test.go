package alb_test

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// albProtocols are the HTTP versions the key ALB specs run over, as ALPN names them.
var albProtocols = []string{"http/1.1", "h2"}

// clientOver is client speaking only proto ("http/1.1" or "h2"), negotiated by ALPN, so a
// listener that does not offer it fails the request instead of quietly falling back.
func clientOver(proto, identity string, tweak ...func(*tls.Config)) *http.Client {
	c := client(identity, tweak...)
	var p http.Protocols
	p.SetHTTP1(proto == "http/1.1")
	p.SetHTTP2(proto == "h2")
	t := c.Transport.(*http.Transport)
	t.Protocols = &p
	if proto == "http/1.1" {
		t.TLSClientConfig.NextProtos = []string{"http/1.1"} // Go sends no ALPN for HTTP/1.1 otherwise
	}
	return c
}

// spoken checks the answer came over proto.
func spoken(r response, proto string) response {
	ExpectWithOffset(1, r.TLS).NotTo(BeNil())
	ExpectWithOffset(1, r.TLS.NegotiatedProtocol).To(Equal(proto))
	return r
}

// albKeyEntries are the key ALB behaviours, each once per HTTP version (SPEC A-H2-1: "Mutual TLS
// authentication for Application Load Balancers supports HTTP/2 in both passthrough and verifier
// modes").
func albKeyEntries() []TableEntry {
	return suite.EntriesOver(albProtocols,
		conformance.Check{ID: "A-MODE-2", Text: "passthrough forwards the URL-encoded chain", Body: func(ctx SpecContext, proto string) {
			sys := start(ctx, config(alb.ModePassthrough))
			r := spoken(ok(ctx, clientOver(proto, fixtures.ClientIntermediate), anything(sys)), proto)
			Expect(r.Status).To(Equal(http.StatusOK))
			chain, err := url.PathUnescape(r.Echo.Headers["X-Amzn-Mtls-Clientcert"])
			Expect(err).NotTo(HaveOccurred())
			Expect(chain).To(Equal(string(pki.Get(fixtures.ClientIntermediate).ChainPEM())))
		}},
		conformance.Check{ID: "A-MODE-3", Text: "verify: an untrusted, expired or missing certificate fails the handshake", Body: func(ctx SpecContext, proto string) {
			sys := start(ctx, config(alb.ModeVerify))
			for _, id := range []string{fixtures.ClientUnknownCA, fixtures.ClientExpired, ""} {
				refused(ctx, clientOver(proto, id), anything(sys))
			}
			Expect(spoken(ok(ctx, clientOver(proto, fixtures.Client), anything(sys)), proto).Status).To(Equal(http.StatusOK), "the positive control")
		}},
		conformance.Check{ID: "A-HDR-1", Text: "verify sends the X-Amzn-Mtls-Clientcert-* headers", Body: func(ctx SpecContext, proto string) {
			sys := start(ctx, config(alb.ModeVerify))
			leaf := pki.Get(fixtures.Client).Cert
			h := spoken(ok(ctx, clientOver(proto, fixtures.Client), anything(sys)), proto).Echo.Headers
			Expect(h).To(HaveKeyWithValue("X-Amzn-Mtls-Clientcert-Subject", leaf.Subject.String()))
			Expect(h).To(HaveKeyWithValue("X-Amzn-Mtls-Clientcert-Issuer", leaf.Issuer.String()))
			Expect(h).To(HaveKey("X-Amzn-Mtls-Clientcert-Serial-Number"))
			Expect(h).To(HaveKey("X-Amzn-Mtls-Clientcert-Validity"))
			leafPEM, err := url.PathUnescape(h["X-Amzn-Mtls-Clientcert-Leaf"])
			Expect(err).NotTo(HaveOccurred())
			Expect(leafPEM).To(Equal(string(pki.Get(fixtures.Client).CertPEM())))
		}},
		conformance.Check{ID: "A-HDR-2", Text: "X-Amzn-Mtls-* headers the client sends are removed", Body: func(ctx SpecContext, proto string) {
			sys := start(ctx, config(alb.ModeVerify))
			r := spoken(ok(ctx, clientOver(proto, fixtures.Client), anything(sys), "X-Amzn-Mtls-Clientcert-Subject", "CN=admin", "X-Amzn-Mtls-Anything", "x"), proto)
			Expect(r.Echo.Headers).NotTo(HaveKey("X-Amzn-Mtls-Anything"))
			Expect(r.Echo.Headers["X-Amzn-Mtls-Clientcert-Subject"]).To(Equal(pki.Get(fixtures.Client).Cert.Subject.String()))
		}},
		conformance.Check{ID: "A-LOG-1", Text: "each connection is logged, Success or Failed:<code>", Body: func(ctx SpecContext, proto string) {
			sys := start(ctx, config(alb.ModeVerify))
			good := ok(ctx, clientOver(proto, fixtures.Client), anything(sys))
			spoken(good, proto)
			expectLogged(sys, good.Conn, "Success")
			bad := refused(ctx, clientOver(proto, fixtures.ClientUnknownCA), anything(sys))
			expectLogged(sys, bad, "Failed:ClientCertUntrusted")
		}},
	)
}

var _ = Describe("HTTP/2", func() {
	DescribeTable("key behaviours over HTTP/1.1 and HTTP/2",
		func(ctx SpecContext, proto string, body func(SpecContext, string)) { body(ctx, proto) },
		albKeyEntries(),
	)

	suite.It("A-H2-1", "an HTTPS listener offers h2 and http/1.1 by ALPN, in every mode", func(ctx SpecContext) {
		for _, mode := range []string{alb.ModeOff, alb.ModePassthrough, alb.ModeVerify} {
			sys := start(ctx, config(mode))
			conf := client(fixtures.Client).Transport.(*http.Transport).TLSClientConfig
			conf.NextProtos = []string{"http/1.1", "h2"}
			c, err := (&tls.Dialer{Config: conf}).DialContext(ctx, "tcp", strings.TrimPrefix(sys.ListenerURLs[0], "https://"))
			Expect(err).NotTo(HaveOccurred(), mode)
			Expect(c.(*tls.Conn).ConnectionState().NegotiatedProtocol).To(Equal("h2"), "%s: the listener prefers h2", mode)
			_ = c.Close()
			Expect(spoken(ok(ctx, clientOver("http/1.1", fixtures.Client), anything(sys)), "http/1.1").Status).To(Equal(http.StatusOK), mode)
		}
	})

	suite.It("A-H2-1", "a request header block past 64 KiB is never forwarded: 431, or refused over HTTP/2", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		var big []string
		for i := range 20 {
			big = append(big, "X-Big-"+string(rune('a'+i)), strings.Repeat("a", 4<<10))
		}
		r := ok(ctx, clientOver("http/1.1", ""), anything(sys), big...)
		Expect(r.Status).To(Equal(http.StatusRequestHeaderFieldsTooLarge))
		r, err := fetch(ctx, clientOver("h2", ""), anything(sys), big...)
		if err == nil {
			Expect(r.Status).To(Equal(http.StatusRequestHeaderFieldsTooLarge))
		} else {
			Expect(err).To(MatchError(MatchRegexp("GOAWAY|larger than peer's advertised limit")))
		}
		Expect(ok(ctx, clientOver("h2", ""), anything(sys)).Status).To(Equal(http.StatusOK), "the listener still serves")
	})
})
