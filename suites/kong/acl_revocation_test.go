package kong_test

import (
	"context"
	"crypto/tls"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// acl enables the acl plugin globally with the given config.
func acl(ctx context.Context, config map[string]any) {
	must(sys.Admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.ACLName, Config: config}))
}

// group adds a consumer to an ACL group.
func group(ctx context.Context, consumer, name string) {
	ExpectWithOffset(1, sys.Admin.Do(ctx, http.MethodPost, "/consumers/"+consumer+"/acls", map[string]any{"group": name}, nil)).To(Succeed())
}

var _ = Describe("authenticated groups and acl", func() {
	suite.It("K-MTLS-7", "skip_consumer_lookup + acl allow [CN]: allowed, and the upstream sees X-Authenticated-Groups", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"skip_consumer_lookup": true})
		acl(ctx, map[string]any{"allow": []string{fixtures.ClientCommonName}})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.Echo.Headers).To(And(HaveKeyWithValue("X-Authenticated-Groups", fixtures.ClientCommonName), Not(HaveKey("X-Consumer-Groups"))))
		r = viaTLS(ctx, "client-intermediate-trusted", "/mtls")
		Expect(r.Status).To(Equal(http.StatusForbidden))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "You cannot consume this service"))
	})

	suite.It("K-MTLS-7", "authenticated_group_by DN: the group is the subject DN; deny lists apply to it", func(ctx SpecContext) {
		dn := "CN=demo@apim.eu,O=mtlsgate"
		mtlsAuth(ctx, map[string]any{"skip_consumer_lookup": true, "authenticated_group_by": "DN"})
		acl(ctx, map[string]any{"deny": []string{dn}})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusForbidden))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "You cannot consume this service"))
		r = viaTLS(ctx, "client-intermediate-trusted", "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Authenticated-Groups", "CN=trusted-intermediate-client,O=mtlsgate"))
	})

	suite.It("K-MTLS-7", "a certificate without CN under authenticated_group_by CN → 401 Certificate missing Common Name", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"skip_consumer_lookup": true})
		r := viaTLS(ctx, fixtures.ClientNoCN, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(`{"message":"Certificate missing Common Name"}`))
	})

	suite.It("K-MTLS-7", "consumer ACL groups: a member passes with X-Consumer-Groups, others get 403; hide_groups_header hides it", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		consumer(ctx, fixtures.ClientCommonName, "")
		group(ctx, fixtures.ClientCommonName, "admins")
		group(ctx, fixtures.ClientCommonName, "ops")
		acl(ctx, map[string]any{"allow": []string{"admins"}})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Groups", "admins, ops"))

		plugins := must(sys.Admin.List(ctx, "/plugins"))
		for _, p := range plugins {
			if p["name"] == kong.ACLName {
				patch(ctx, sys, "/plugins/"+p["id"].(string), map[string]any{"config": map[string]any{"allow": []string{"auditors"}}})
			}
		}
		r = viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusForbidden))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "You cannot consume this service"))

		for _, p := range plugins {
			if p["name"] == kong.ACLName {
				patch(ctx, sys, "/plugins/"+p["id"].(string), map[string]any{"config": map[string]any{"allow": []string{"ops"}, "hide_groups_header": true}})
			}
		}
		r = viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo.Headers).NotTo(HaveKey("X-Consumer-Groups"))
	})

	suite.It("K-MTLS-7", "acl without any authentication → 401; an acl config with both allow and deny is rejected", func(ctx SpecContext) {
		echoRoute(ctx, "open", "/open")
		acl(ctx, map[string]any{"allow": []string{"admins"}})
		r := get(ctx, client(""), sys.ProxyURL+"/open", "Accept", "application/json")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "Unauthorized"))
		err := sys.Admin.Do(ctx, http.MethodPost, "/plugins", map[string]any{"name": kong.ACLName, "route": map[string]any{"name": "open"},
			"config": map[string]any{"allow": []string{"a"}, "deny": []string{"b"}}}, nil)
		e, ok := kongapi.AsError(err)
		Expect(ok).To(BeTrue(), "%v", err)
		Expect(e.Status).To(Equal(http.StatusBadRequest))
		Expect(e.Message).To(ContainSubstring("only one of these fields must be non-empty: 'config.allow', 'config.deny'"))
	})
})

var _ = Describe("revocation", func() {
	var crlURL string
	// revocable issues a client certificate whose distribution point is the suite's responder.
	revocable := func(name, cn string) {
		crlURL = sys.CRLBaseURL + "/ca.crl"
		must(pki.Issue(fixtures.Request{Name: name, Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: cn, CRLURL: crlURL}))
	}
	serveCRL := func(ctx context.Context, revoked ...string) {
		crl := must(pki.NewCRL(fixtures.CRLRequest{Name: "crl-live", Issuer: fixtures.RootCA, Revoked: revoked}))
		Expect(sys.CRL.SetCRL(ctx, "ca", crl.PEM)).To(Succeed())
		Expect(sys.CRL.SetMode(ctx, upstream.CRLServe, 0)).To(Succeed())
	}
	BeforeEach(func(ctx SpecContext) {
		revocable("client-cdp", "cdp-client")
		revocable("client-cdp-other", "cdp-other")
		serveCRL(ctx)
	})
	fast := map[string]any{"cert_cache_ttl": 0, "http_timeout": 500}

	suite.It("K-MTLS-2", "a revoked certificate → 401 TLS certificate failed verification", conformance.Requires(catalog.Revocation), func(ctx SpecContext) {
		mtlsAuth(ctx, fast)
		consumer(ctx, "cdp-client", "")
		Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(http.StatusOK))
		serveCRL(ctx, "client-cdp")
		r := viaTLS(ctx, "client-cdp", "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(failedVerify))
	})

	suite.It("K-MTLS-8", "the CRL comes from the certificate's distribution point over HTTP; SKIP never asks", func(ctx SpecContext) {
		mtlsAuth(ctx, fast)
		consumer(ctx, "cdp-client", "")
		before := must(sys.CRL.Hits(ctx, "ca"))
		Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(http.StatusOK))
		Expect(must(sys.CRL.Hits(ctx, "ca"))).To(Equal(before + 1))

		serveCRL(ctx, "client-cdp")
		plugin := must(sys.Admin.List(ctx, "/plugins"))[0]["id"].(string)
		patch(ctx, sys, "/plugins/"+plugin, map[string]any{"config": map[string]any{"revocation_check_mode": "SKIP"}})
		before = must(sys.CRL.Hits(ctx, "ca"))
		Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(http.StatusOK), "SKIP lets a revoked certificate through")
		Expect(must(sys.CRL.Hits(ctx, "ca"))).To(Equal(before), "SKIP does not fetch")
	})

	for _, c := range []struct {
		mode   upstream.CRLMode
		delay  time.Duration
		strict int
		ignore int
	}{
		{upstream.CRLUnreachable, 0, http.StatusUnauthorized, http.StatusOK},
		{upstream.CRLGarbage, 0, http.StatusUnauthorized, http.StatusOK},
		{upstream.CRLSlow, 3 * time.Second, http.StatusUnauthorized, http.StatusOK},
	} {
		suite.It("K-MTLS-8", "responder "+string(c.mode)+": status unknown → IGNORE_CA_ERROR lets it pass, STRICT refuses; never a crash or a hang", func(ctx SpecContext) {
			mtlsAuth(ctx, fast)
			consumer(ctx, "cdp-client", "")
			Expect(sys.CRL.SetMode(ctx, c.mode, c.delay)).To(Succeed())
			start := time.Now()
			Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(c.ignore), "IGNORE_CA_ERROR")
			Expect(time.Since(start)).To(BeNumerically("<", 2500*time.Millisecond), "bounded by http_timeout (500 ms)")
			plugin := must(sys.Admin.List(ctx, "/plugins"))[0]["id"].(string)
			patch(ctx, sys, "/plugins/"+plugin, map[string]any{"config": map[string]any{"revocation_check_mode": "STRICT"}})
			r := viaTLS(ctx, "client-cdp", "/mtls")
			Expect(r.Status).To(Equal(c.strict), "STRICT")
			Expect(r.Body).To(MatchJSON(failedVerify))
		}, SpecTimeout(framework.SpecBudget))
	}

	suite.It("K-MTLS-8", "a CRL over HTTPS is trusted through lua_ssl_trusted_certificate", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		must(pki.Issue(fixtures.Request{Name: "client-cdp-https", Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: "cdp-https", CRLURL: sys.CRLTLSBaseURL + "/ca.crl"}))
		serveCRL(ctx, "client-cdp-https")
		strict := map[string]any{"cert_cache_ttl": 0, "http_timeout": 1000, "revocation_check_mode": "STRICT"}
		for conf, want := range map[string]int{
			"lua_ssl_trusted_certificate = " + file("ca.crt"): http.StatusUnauthorized, // the CRL was read: revoked
			"lua_ssl_trusted_certificate = system":            http.StatusUnauthorized, // not trusted: unknown, and STRICT refuses
		} {
			s := startKong(ctx, conf)
			ca := must(s.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
			cfg := map[string]any{"ca_certificates": []string{ca.ID}}
			for k, v := range strict {
				cfg[k] = v
			}
			plugin := must(s.Admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.MTLSAuthName, Config: cfg}))
			serviceTo(ctx, s, "echo", s.EchoURL+"/anything", "/mtls", nil)
			must(s.Admin.CreateConsumer(ctx, kongapi.Consumer{Username: "cdp-https"}))
			Expect(get(ctx, client("client-cdp-https"), s.ProxyTLSURL+"/mtls").Status).To(Equal(want), conf)
			// IGNORE_CA_ERROR separates the two: revoked stays refused, unknown passes.
			patch(ctx, s, "/plugins/"+plugin.ID, map[string]any{"config": map[string]any{"revocation_check_mode": "IGNORE_CA_ERROR"}})
			status := get(ctx, client("client-cdp-https"), s.ProxyTLSURL+"/mtls").Status
			if conf == "lua_ssl_trusted_certificate = system" {
				Expect(status).To(Equal(http.StatusOK), "an untrusted CRL server leaves the status unknown")
			} else {
				Expect(status).To(Equal(http.StatusUnauthorized), "the trusted CRL server said revoked")
			}
		}
	})

	suite.It("K-MTLS-8", "results are cached per cert_cache_ttl: a revocation shows only once the entry expires", func(ctx SpecContext) {
		const ttl = 1500 * time.Millisecond
		mtlsAuth(ctx, map[string]any{"cert_cache_ttl": ttl.Milliseconds(), "http_timeout": 500})
		consumer(ctx, "cdp-client", "")
		// The entry is stored during this first request, so it cannot expire before ttl has
		// passed since the request began.
		firstRequest := time.Now()
		Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(http.StatusOK))
		hits := must(sys.CRL.Hits(ctx, "ca"))
		serveCRL(ctx, "client-cdp")
		Expect(viaTLS(ctx, "client-cdp", "/mtls").Status).To(Equal(http.StatusOK), "still cached as good")
		Expect(must(sys.CRL.Hits(ctx, "ca"))).To(Equal(hits), "served from the cache, no fetch")
		Eventually(func() int { return viaTLS(ctx, "client-cdp", "/mtls").Status }).
			WithTimeout(framework.EventuallyTimeout).WithPolling(100 * time.Millisecond).Should(Equal(http.StatusUnauthorized))
		Expect(time.Since(firstRequest)).To(BeNumerically(">=", ttl), "not before the entry expired")
	})

	suite.It("K-MTLS-8", "a slow CRL fetch never blocks requests from other certificates", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"cert_cache_ttl": 0, "http_timeout": 3000})
		consumer(ctx, "cdp-client", "")
		consumer(ctx, fixtures.ClientCommonName, "")
		Expect(sys.CRL.SetMode(ctx, upstream.CRLSlow, 2500*time.Millisecond)).To(Succeed())
		slowDone := make(chan time.Time, 1)
		go func() {
			defer GinkgoRecover()
			viaTLS(ctx, "client-cdp", "/mtls")
			slowDone <- time.Now()
		}()
		Eventually(func() int { n, _ := sys.CRL.Hits(ctx, "ca"); return n }).Should(BeNumerically(">", 0))
		r := viaTLS(ctx, fixtures.Client, "/mtls") // its CRL comes from elsewhere: no responder at all
		fastDone := time.Now()
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(fastDone).To(BeTemporally("<", <-slowDone), "the other certificate did not wait for the slow fetch")
	}, SpecTimeout(framework.SpecBudget))
})

var _ = Describe("partial chains and CA names", func() {
	suite.It("K-MTLS-9", "an intermediate in ca_certificates is a trust anchor only with allow_partial_chain", func(ctx SpecContext) {
		inter := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.IntermediateCA)))
		plugin := must(sys.Admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.MTLSAuthName, Config: map[string]any{"ca_certificates": []string{inter.ID}}}))
		echoRoute(ctx, "echo", "/mtls")
		consumer(ctx, "intermediate-client", "")
		r := viaTLS(ctx, fixtures.ClientIntermediate, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized))
		Expect(r.Body).To(MatchJSON(failedVerify))
		patch(ctx, sys, "/plugins/"+plugin.ID, map[string]any{"config": map[string]any{"allow_partial_chain": true}})
		Expect(viaTLS(ctx, fixtures.ClientIntermediate, "/mtls").Status).To(Equal(http.StatusOK))
	})

	suite.It("K-MTLS-9", "send_ca_dn: the CertificateRequest lists the CA names only when true", func(ctx SpecContext) {
		caID := mtlsAuth(ctx, nil)
		_ = caID
		seen := func() [][]byte {
			var got [][]byte
			_, _ = handshake(hostOf(sys.ProxyTLSURL), tlsVersion(tls.VersionTLS13), func(c *tls.Config) {
				c.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
					got = cri.AcceptableCAs
					return &tls.Certificate{}, nil
				}
			})
			return got
		}
		Expect(seen()).To(BeEmpty())
		plugin := must(sys.Admin.List(ctx, "/plugins"))[0]["id"].(string)
		patch(ctx, sys, "/plugins/"+plugin, map[string]any{"config": map[string]any{"send_ca_dn": true}})
		Expect(seen()).To(ConsistOf(Equal(pki.Get(fixtures.RootCA).Cert.RawSubject)))
	})
})
