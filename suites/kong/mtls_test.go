package kong_test

import (
	"crypto/tls"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

const (
	noCertificate = `{"message":"No required TLS certificate was sent"}`
	failedVerify  = `{"message":"TLS certificate failed verification"}`
)

var _ = Describe(kong.MTLSAuthName, func() {
	suite.It("K-MTLS-1", "plain HTTP → 401 No required TLS certificate was sent", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		consumer(ctx, fixtures.ClientCommonName, "")
		r := get(ctx, client(""), sys.ProxyURL+"/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(noCertificate))
		Expect(r.Header.Get("Content-Type")).To(Equal("application/json; charset=utf-8"))
	})

	// One entry per TLS version, so a failure names every version that fails.
	DescribeTable("without a certificate over each TLS version",
		func(ctx SpecContext, v uint16) {
			mtlsAuth(ctx, nil)
			consumer(ctx, fixtures.ClientCommonName, "")
			r := get(ctx, client("", func(c *tls.Config) { c.MinVersion, c.MaxVersion = v, v }), sys.ProxyTLSURL+"/mtls")
			Expect(r.TLS).NotTo(BeNil())
			Expect(r.TLS.Version).To(Equal(v))
			Expect(r.Status).To(Equal(http.StatusUnauthorized), tls.VersionName(v))
			Expect(r.Body).To(MatchJSON(noCertificate))
		},
		suite.Entry("K-MTLS-1", "TLS 1.3 and TLS 1.2 without a certificate: the handshake completes, then 401 (TLS 1.3)", uint16(tls.VersionTLS13)),
		suite.Entry("K-MTLS-1", "TLS 1.3 and TLS 1.2 without a certificate: the handshake completes, then 401 (TLS 1.2)", uint16(tls.VersionTLS12)),
	)

	// One entry per bad identity, so a failure names every identity the gateway lets through.
	DescribeTable("a certificate that fails verification",
		func(ctx SpecContext, id string) {
			mtlsAuth(ctx, nil)
			// a consumer for the bad identity's CN, so only verification can refuse it
			consumer(ctx, pki.Get(id).Cert.Subject.CommonName, "")
			r := viaTLS(ctx, id, "/mtls")
			Expect(r.Status).To(Equal(http.StatusUnauthorized), id)
			Expect(r.Body).To(MatchJSON(failedVerify), id)
			consumer(ctx, fixtures.ClientCommonName, "")
			Expect(viaTLS(ctx, fixtures.Client, "/mtls").Status).To(Equal(http.StatusOK), "the positive control")
		},
		badIdentityEntries("K-MTLS-2", "expired, not yet valid, untrusted and self-signed certificates → 401 TLS certificate failed verification",
			fixtures.ClientExpired, fixtures.ClientNotYetValid, fixtures.ClientUnknownCA, fixtures.ClientSelfSigned, fixtures.ClientOfNotACA),
	)

	suite.It("K-MTLS-2", "a certificate without the clientAuth purpose → 401 (OpenSSL's ssl_client purpose)", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		consumer(ctx, pki.Get(fixtures.ClientNoClientAuth).Cert.Subject.CommonName, "")
		r := viaTLS(ctx, fixtures.ClientNoClientAuth, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(failedVerify))
	})

	suite.It("K-MTLS-3", "a trusted certificate without a matching consumer → 401 TLS certificate failed verification", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		consumer(ctx, "someone-else", "")
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(failedVerify))
	})

	suite.It("K-MTLS-3", "with default_consumer, a trusted certificate without a match is that consumer", func(ctx SpecContext) {
		fallback := consumer(ctx, "fallback", "")
		mtlsAuth(ctx, map[string]any{"default_consumer": "fallback"})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", fallback.ID))
		Expect(r.Echo.Headers).NotTo(HaveKey("X-Anonymous-Consumer"))
		Expect(viaTLS(ctx, fixtures.ClientUnknownCA, "/mtls").Status).To(Equal(http.StatusUnauthorized), "default_consumer is not for untrusted certificates")
	})

	Describe("consumer lookup", func() {
		var sanCN = "cn-name"
		var sanDNS = "san-name.example.test"
		BeforeEach(func() {
			must(pki.Issue(fixtures.Request{Name: "client-san", Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: sanCN, DNSNames: []string{sanDNS}}))
		})

		suite.It("K-MTLS-4", "SAN values are tried before the subject CN", func(ctx SpecContext) {
			mtlsAuth(ctx, nil)
			consumer(ctx, sanCN, "")
			bySAN := consumer(ctx, sanDNS, "")
			r := viaTLS(ctx, "client-san", "/mtls")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", bySAN.ID))
		})

		suite.It("K-MTLS-4", "an mtls-auth credential is tried before consumer_by, and a CA-bound one before a CA-less one", func(ctx SpecContext) {
			caID := mtlsAuth(ctx, nil)
			consumer(ctx, fixtures.ClientCommonName, "") // would match by username
			anyCA := consumer(ctx, "any-ca", "")
			must(sys.Admin.CreateMTLSCredential(ctx, anyCA.ID, kongapi.MTLSCredential{SubjectName: fixtures.ClientCommonName}))
			r := viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", anyCA.ID), "credential beats username")

			boundCA := consumer(ctx, "bound-ca", "")
			must(sys.Admin.CreateMTLSCredential(ctx, boundCA.ID, kongapi.MTLSCredential{SubjectName: fixtures.ClientCommonName, CACertificate: &kongapi.Ref{ID: caID}}))
			r = viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", boundCA.ID), "CA-bound credential beats CA-less")
		})

		suite.It("K-MTLS-4", "a credential bound to another CA is skipped", func(ctx SpecContext) {
			mtlsAuth(ctx, nil)
			other := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RSARootCA)))
			wrong := consumer(ctx, "wrong-ca", "")
			must(sys.Admin.CreateMTLSCredential(ctx, wrong.ID, kongapi.MTLSCredential{SubjectName: fixtures.ClientCommonName, CACertificate: &kongapi.Ref{ID: other.ID}}))
			r := viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Status).To(Equal(http.StatusUnauthorized))
			Expect(r.Body).To(MatchJSON(failedVerify))
			byName := consumer(ctx, fixtures.ClientCommonName, "")
			r = viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", byName.ID))
		})

		suite.It("K-MTLS-4", "consumer_by fields are tried in their order; an empty consumer_by matches nobody", func(ctx SpecContext) {
			byUsername := consumer(ctx, fixtures.ClientCommonName, "")
			byCustomID := consumer(ctx, "other", fixtures.ClientCommonName)
			caID := mtlsAuth(ctx, map[string]any{"consumer_by": []string{"custom_id", "username"}})
			r := viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", byCustomID.ID))

			plugins := must(sys.Admin.List(ctx, "/plugins"))
			Expect(sys.Admin.Patch(ctx, "/plugins/"+plugins[0]["id"].(string), map[string]any{"config": map[string]any{"consumer_by": []string{"username"}}}, nil)).To(Succeed())
			r = viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", byUsername.ID), "the PATCH applies to the very next request")

			Expect(sys.Admin.Patch(ctx, "/plugins/"+plugins[0]["id"].(string), map[string]any{"config": map[string]any{"consumer_by": []string{}, "ca_certificates": []string{caID}}}, nil)).To(Succeed())
			Expect(viaTLS(ctx, fixtures.Client, "/mtls").Status).To(Equal(http.StatusUnauthorized))
		})
	})

	suite.It("K-MTLS-5", "a matched consumer's X-Consumer-ID, -Username and -Custom-ID reach the upstream", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		c := consumer(ctx, fixtures.ClientCommonName, "demo-custom")
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo.Headers).To(And(
			HaveKeyWithValue("X-Consumer-Id", c.ID),
			HaveKeyWithValue("X-Consumer-Username", fixtures.ClientCommonName),
			HaveKeyWithValue("X-Consumer-Custom-Id", "demo-custom"),
			Not(HaveKey("X-Anonymous-Consumer")), Not(HaveKey("X-Client-Cert-Dn"))))
	})

	suite.It("K-MTLS-5", "a consumer without custom_id gets no X-Consumer-Custom-ID", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		consumer(ctx, fixtures.ClientCommonName, "")
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Echo.Headers).To(And(HaveKey("X-Consumer-Username"), Not(HaveKey("X-Consumer-Custom-Id"))))
	})

	suite.It("K-MTLS-5", "skip_consumer_lookup → X-Client-Cert-DN and X-Client-Cert-SAN, no X-Consumer-*", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"skip_consumer_lookup": true})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Client-Cert-Dn", "CN=demo@apim.eu,O=mtlsgate"))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Client-Cert-San", "demo@apim.eu,demo@apim.eu"))
		Expect(r.Echo.Headers).NotTo(Or(HaveKey("X-Consumer-Id"), HaveKey("X-Consumer-Username")))
		Expect(viaTLS(ctx, fixtures.ClientExpired, "/mtls").Status).To(Equal(http.StatusUnauthorized), "verification still applies")
	})

	DescribeTable("anonymous",
		func(ctx SpecContext, id string) {
			anon := consumer(ctx, "anonymous", "")
			mtlsAuth(ctx, map[string]any{"anonymous": anon.ID})
			r := viaTLS(ctx, id, "/mtls")
			Expect(r.Status).To(Equal(http.StatusOK), id)
			Expect(r.Echo.Headers).To(And(HaveKeyWithValue("X-Consumer-Id", anon.ID), HaveKeyWithValue("X-Anonymous-Consumer", "true")), id)
			real := consumer(ctx, fixtures.ClientCommonName, "")
			r = viaTLS(ctx, fixtures.Client, "/mtls")
			Expect(r.Echo.Headers).To(And(HaveKeyWithValue("X-Consumer-Id", real.ID), Not(HaveKey("X-Anonymous-Consumer"))))
		},
		badIdentityEntries("K-MTLS-5", "anonymous: a request that fails authentication proceeds as the anonymous consumer", "", fixtures.ClientUnknownCA),
	)

	suite.It("K-MTLS-5", "anonymous naming a consumer that does not exist → 500", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"anonymous": "8d3c9e1f-5a2b-4c6d-9e8f-7a6b5c4d3e2f"})
		r := viaTLS(ctx, "", "/mtls")
		Expect(r.Status).To(Equal(http.StatusInternalServerError))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "An unexpected error occurred"))
	})

	suite.It("K-MTLS-6", "identity headers sent by the client never reach the upstream", func(ctx SpecContext) {
		forged := []string{
			"X-Consumer-ID", "forged", "X-Consumer-Username", "forged", "X-Consumer-Custom-ID", "forged",
			"X-Anonymous-Consumer", "true", "X-Client-Cert-DN", "CN=forged", "X-Client-Cert-SAN", "forged",
			"X-Authenticated-Groups", "admins", "X-Consumer-Groups", "admins", "X-Credential-Identifier", "forged",
		}
		echoRoute(ctx, "open", "/open")
		r := get(ctx, client(""), sys.ProxyURL+"/open", forged...)
		Expect(r.Status).To(Equal(http.StatusOK))
		for i := 0; i < len(forged); i += 2 {
			Expect(r.Echo.Headers).NotTo(HaveKey(http.CanonicalHeaderKey(forged[i])), "without a plugin")
		}

		mtlsAuth(ctx, nil)
		c := consumer(ctx, fixtures.ClientCommonName, "")
		r = viaTLS(ctx, fixtures.Client, "/mtls", forged...)
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", c.ID))
		for _, h := range []string{"X-Consumer-Custom-Id", "X-Anonymous-Consumer", "X-Client-Cert-Dn", "X-Authenticated-Groups", "X-Consumer-Groups", "X-Credential-Identifier"} {
			Expect(r.Echo.Headers).NotTo(HaveKey(h), "with mtls-auth")
		}
	})

	suite.It("K-MTLS-6", "identity headers spelled with underscores (X_Consumer_ID) never reach the upstream, which would read them as the gateway's own", func(ctx SpecContext) {
		forged := http.Header{}
		for _, name := range []string{"X_Consumer_ID", "X_Consumer_Username", "X-Consumer_Custom-ID", "X_Anonymous_Consumer",
			"X_Client_Cert_DN", "X-Client-Cert_SAN", "X_Authenticated_Groups", "X_Consumer_Groups", "X_Credential_Identifier"} {
			forged[name] = []string{"forged"}
		}
		echoRoute(ctx, "open", "/open")
		r := do(ctx, client(""), http.MethodGet, sys.ProxyURL+"/open", forged, nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		for name, value := range r.Echo.Headers {
			Expect(value).NotTo(Equal("forged"), "%s reached the upstream", name)
		}

		mtlsAuth(ctx, nil)
		consumer(ctx, fixtures.ClientCommonName, "")
		r = do(ctx, client(fixtures.Client), http.MethodGet, sys.ProxyTLSURL+"/mtls", forged, nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		for name, value := range r.Echo.Headers {
			Expect(value).NotTo(Equal("forged"), "%s reached the upstream with mtls-auth", name)
		}
	})

	suite.It("K-MTLS-6", "over HTTP/2 too (the http2 TLS listener, K-H2-1), identity headers spelled with underscores (x_consumer_id) never reach the upstream", conformance.Requires(catalog.HTTP2), func(ctx SpecContext) {
		forged := http.Header{}
		for _, name := range []string{"x_consumer_id", "x_consumer_username", "x-consumer_custom-id", "x_anonymous_consumer",
			"x_client_cert_dn", "x_authenticated_groups", "x_credential_identifier"} {
			forged[name] = []string{"forged"}
		}
		mtlsAuth(ctx, nil)
		c := consumer(ctx, fixtures.ClientCommonName, "")
		r := do(ctx, clientOver("HTTP/2.0", fixtures.Client), http.MethodGet, sys.ProxyTLSURL+"/mtls", forged, nil)
		Expect(r.Proto).To(Equal("HTTP/2.0"))
		Expect(r.Status).To(Equal(http.StatusOK))
		for name, value := range r.Echo.Headers {
			Expect(value).NotTo(Equal("forged"), "%s reached the upstream over HTTP/2", name)
		}
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Id", c.ID), "the gateway's own header is still set")
	})
})

// badIdentityEntries is one table entry per identity ("" for none), named text and the
// identity, so every identity that fails is reported, not only the first.
func badIdentityEntries(id catalog.ID, text string, identities ...string) []TableEntry {
	out := make([]TableEntry, len(identities))
	for i, who := range identities {
		name := who
		if name == "" {
			name = "no certificate"
		}
		out[i] = suite.Entry(id, text+" ("+name+")", who)
	}
	return out
}
