package kong_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
)

// overProto requests the TLS proxy as identity, speaking only proto, and checks that proto is
// what was spoken.
func overProto(ctx SpecContext, proto, identity, path string) response {
	r := get(ctx, clientOver(proto, identity), sys.ProxyTLSURL+path)
	ExpectWithOffset(1, r.Proto).To(Equal(proto))
	return r
}

// keyEntries are the key Kong behaviours, each once per HTTP version: the same answer whether
// the client speaks HTTP/1.1 or HTTP/2 (SPEC K-H2-1).
func keyEntries() []TableEntry {
	return suite.EntriesOver(protocols,
		conformance.Check{ID: "K-MTLS-1", Text: "no client certificate → 401 No required TLS certificate was sent", Body: func(ctx SpecContext, proto string) {
			mtlsAuth(ctx, nil)
			consumer(ctx, fixtures.ClientCommonName, "")
			r := overProto(ctx, proto, "", "/mtls")
			Expect(r.Status).To(Equal(http.StatusUnauthorized))
			Expect(r.Body).To(MatchJSON(noCertificate))
		}},
		failedVerification(fixtures.ClientUnknownCA),
		failedVerification(fixtures.ClientExpired),
		conformance.Check{ID: "K-MTLS-3", Text: "a trusted certificate without a consumer → 401", Body: func(ctx SpecContext, proto string) {
			mtlsAuth(ctx, nil)
			r := overProto(ctx, proto, fixtures.Client, "/mtls")
			Expect(r.Status).To(Equal(http.StatusUnauthorized))
			Expect(r.Body).To(MatchJSON(failedVerify))
		}},
		conformance.Check{ID: "K-MTLS-5", Text: "the upstream sees the matched consumer's headers", Body: func(ctx SpecContext, proto string) {
			mtlsAuth(ctx, nil)
			c := consumer(ctx, fixtures.ClientCommonName, "demo")
			r := overProto(ctx, proto, fixtures.Client, "/mtls")
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.Echo.Headers).To(And(
				HaveKeyWithValue("X-Consumer-Id", c.ID),
				HaveKeyWithValue("X-Consumer-Username", fixtures.ClientCommonName),
				HaveKeyWithValue("X-Consumer-Custom-Id", "demo"),
				Not(HaveKey("X-Anonymous-Consumer"))))
		}},
		conformance.Check{ID: "K-MTLS-7", Text: "skip_consumer_lookup: X-Client-Cert-DN and the authenticated group", Body: func(ctx SpecContext, proto string) {
			mtlsAuth(ctx, map[string]any{"skip_consumer_lookup": true})
			r := overProto(ctx, proto, fixtures.Client, "/mtls")
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Client-Cert-Dn", "CN=demo@apim.eu,O=mtlsgate"))
		}},
		conformance.Check{ID: "K-PROXY-1", Text: "Kong's response headers, and no route → 404", Body: func(ctx SpecContext, proto string) {
			mtlsAuth(ctx, nil)
			consumer(ctx, fixtures.ClientCommonName, "")
			r := overProto(ctx, proto, fixtures.Client, "/mtls")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(r.Header.Get("Via")).To(HavePrefix("1.1 "))
			Expect(r.Header.Get("X-Kong-Request-Id")).NotTo(BeEmpty())
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Forwarded-Proto", "https"))
			r = overProto(ctx, proto, fixtures.Client, "/nowhere")
			Expect(r.Status).To(Equal(http.StatusNotFound))
			Expect(r.JSON()).To(HaveKeyWithValue("message", "no Route matched with those values"))
		}},
	)
}

var _ = Describe("HTTP/2", func() {
	DescribeTable("key behaviours over HTTP/1.1 and HTTP/2",
		func(ctx SpecContext, proto string, body func(SpecContext, string)) { body(ctx, proto) },
		keyEntries(),
	)

	suite.It("K-H2-1", "the TLS proxy listener with the http2 flag negotiates h2 by ALPN, preferring it; the plain listener speaks HTTP/1.1", func(ctx SpecContext) {
		st, err := handshake(hostOf(sys.ProxyTLSURL), func(c *tls.Config) { c.NextProtos = []string{"http/1.1", "h2"} })
		Expect(err).NotTo(HaveOccurred())
		Expect(st.NegotiatedProtocol).To(Equal("h2"))
		st, err = handshake(hostOf(sys.ProxyTLSURL), func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
		Expect(err).NotTo(HaveOccurred())
		Expect(st.NegotiatedProtocol).To(Equal("http/1.1"))
		echoRoute(ctx, "open", "/open")
		r := get(ctx, client(""), sys.ProxyURL+"/open")
		Expect(r.Proto).To(Equal("HTTP/1.1"))
		Expect(r.Status).To(Equal(http.StatusOK))
	})

	suite.It("K-H2-1", "a TLS proxy listener without the http2 flag does not offer h2", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "proxy_listen = 127.0.0.1:0, 127.0.0.1:0 ssl")
		st, err := handshake(hostOf(s.ProxyTLSURL), func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} })
		Expect(err).NotTo(HaveOccurred())
		Expect(st.NegotiatedProtocol).To(Equal("http/1.1"))
		_, err = clientOver("HTTP/2.0", "").Get(s.ProxyTLSURL + "/")
		Expect(err).To(HaveOccurred(), "an HTTP/2-only client finds no h2")
	})

	suite.It("K-H2-1", "a TLS 1.2 client on a TLS 1.3-only listener fails the handshake whether it offers h2 or not", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "ssl_cipher_suite = modern")
		for _, protos := range [][]string{{"h2"}, {"http/1.1"}} {
			_, err := handshake(hostOf(s.ProxyTLSURL), tlsVersion(tls.VersionTLS12), func(c *tls.Config) { c.NextProtos = protos })
			Expect(err).To(MatchError(ContainSubstring("protocol version")), strings.Join(protos, ","))
		}
	})

	suite.It("K-H2-1", "a header block past 64 KiB is never served: 431 over HTTP/1.1; over HTTP/2 431, a GOAWAY, or a client that read the advertised limit refuses to send it", func(ctx SpecContext) {
		echoRoute(ctx, "open", "/open")
		// 20 headers of 4 KiB: each is an ordinary size, together they pass the limit.
		header := http.Header{}
		for i := range 20 {
			header.Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("a", 4<<10))
		}
		r := do(ctx, clientOver("HTTP/1.1", ""), http.MethodGet, sys.ProxyTLSURL+"/open", header, nil)
		Expect(r.Status).To(Equal(http.StatusRequestHeaderFieldsTooLarge))

		req, err := http.NewRequestWithContext(ctx, http.MethodGet, sys.ProxyTLSURL+"/open", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header = header
		resp, err := clientOver("HTTP/2.0", "").Do(req)
		if err == nil {
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusRequestHeaderFieldsTooLarge))
		} else {
			// Go's server ends a connection whose header block runs past the limit (CVE-2023-45288).
			Expect(err).To(MatchError(MatchRegexp("GOAWAY|larger than peer's advertised limit")))
		}
		Expect(get(ctx, clientOver("HTTP/2.0", ""), sys.ProxyTLSURL+"/open").Status).To(Equal(http.StatusOK), "the listener still serves")
	})
})

// failedVerification is the K-MTLS-2 check for one bad identity, so each identity is its own
// entry and every one that gets through is reported.
func failedVerification(id string) conformance.Check {
	return conformance.Check{ID: "K-MTLS-2", Text: "an untrusted or expired certificate → 401 TLS certificate failed verification (" + id + ")", Body: func(ctx SpecContext, proto string) {
		mtlsAuth(ctx, nil)
		consumer(ctx, pki.Get(id).Cert.Subject.CommonName, "")
		r := overProto(ctx, proto, id, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized), id)
		Expect(r.Body).To(MatchJSON(failedVerify), id)
	}}
}
