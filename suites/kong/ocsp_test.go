package kong_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

var _ = Describe("revocation by OCSP", func() {
	// The responder answers as the root CA, for certificates whose Authority Information Access
	// names /ocsp/ca on the suite's echo.
	const issuer = "ca"
	const cn = "ocsp-client"
	ocspURL := func(base string) string { return base + "/ocsp/" + issuer }
	// ocspClient issues a client certificate whose OCSP responder is url (and whose CRL, when
	// crlURL is set, is there).
	ocspClient := func(name, url, crlURL string) {
		must(pki.Issue(fixtures.Request{Name: name, Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: cn, OCSPURL: url, CRLURL: crlURL}))
	}
	answer := func(ctx context.Context, mode upstream.OCSPMode, delay time.Duration, revoked ...string) {
		Expect(sys.OCSP.SetMode(ctx, mode, delay)).To(Succeed())
		serials := make([]*big.Int, 0, len(revoked))
		for _, r := range revoked {
			serials = append(serials, pki.Get(r).Serial)
		}
		Expect(sys.OCSP.SetRevoked(ctx, issuer, serials...)).To(Succeed())
	}
	BeforeEach(func(ctx SpecContext) {
		root := pki.Get(fixtures.RootCA)
		Expect(sys.OCSP.SetIssuer(ctx, issuer, root.CertPEM(), must(root.KeyPEM()))).To(Succeed())
		Expect(sys.OCSP.SetMode(ctx, upstream.OCSPServe, 0)).To(Succeed())
		Expect(sys.CRL.SetMode(ctx, upstream.CRLServe, 0)).To(Succeed())
		ocspClient("client-ocsp", ocspURL(sys.CRLBaseURL), "")
	})

	// The answers a responder (or whatever stands between it and the gateway) can give, and what
	// each mode makes of them: revoked is refused unless SKIP; a status nobody can tell (unknown,
	// no answer, a late answer, an answer that does not parse, is not the issuer's, is stale, or
	// is about another certificate) passes under IGNORE_CA_ERROR and is refused under STRICT.
	DescribeTable("each answer in each mode",
		func(ctx SpecContext, mode string, ocspMode upstream.OCSPMode, revoke bool, want int) {
			mtlsAuth(ctx, map[string]any{"revocation_check_mode": mode, "cert_cache_ttl": 0, "http_timeout": 500})
			consumer(ctx, cn, "")
			var revoked []string
			if revoke {
				revoked = []string{"client-ocsp"}
			}
			// A slow responder stalls far past http_timeout; the request must not wait for it.
			answer(ctx, ocspMode, time.Minute, revoked...)
			before := must(sys.OCSP.Hits(ctx, issuer))
			bounded, cancel := context.WithTimeout(ctx, framework.EventuallyTimeout)
			defer cancel()
			r := viaTLS(bounded, "client-ocsp", "/mtls")
			Expect(r.Status).To(Equal(want), string(r.Body))
			if want == http.StatusUnauthorized {
				Expect(r.Body).To(MatchJSON(failedVerify))
			}
			after := must(sys.OCSP.Hits(ctx, issuer))
			if mode == "SKIP" {
				Expect(after).To(Equal(before), "SKIP never asks the responder")
			} else {
				Expect(after).To(BeNumerically(">", before), "the responder named in the certificate was asked")
			}
		},
		ocspEntries(),
	)

	suite.It("K-MTLS-8", "a certificate that names neither an OCSP responder nor a CRL: IGNORE_CA_ERROR lets it pass, STRICT refuses it", func(ctx SpecContext) {
		mtlsAuth(ctx, map[string]any{"cert_cache_ttl": 0, "http_timeout": 500})
		consumer(ctx, fixtures.ClientCommonName, "")
		Expect(pki.Get(fixtures.Client).Cert.OCSPServer).To(BeEmpty())
		Expect(pki.Get(fixtures.Client).Cert.CRLDistributionPoints).To(BeEmpty())
		Expect(viaTLS(ctx, fixtures.Client, "/mtls").Status).To(Equal(http.StatusOK), "IGNORE_CA_ERROR")
		plugin := must(sys.Admin.List(ctx, "/plugins"))[0]["id"].(string)
		patch(ctx, sys, "/plugins/"+plugin, map[string]any{"config": map[string]any{"revocation_check_mode": "STRICT"}})
		r := viaTLS(ctx, fixtures.Client, "/mtls")
		Expect(r.Status).To(Equal(http.StatusUnauthorized), "STRICT")
		Expect(r.Body).To(MatchJSON(failedVerify))
	})

	suite.It("K-MTLS-8", "OCSP and CRL together: the responder's good or revoked decides; when it cannot say, the CRL does", func(ctx SpecContext) {
		ocspClient("client-ocsp-cdp", ocspURL(sys.CRLBaseURL), sys.CRLBaseURL+"/ca.crl")
		crl := must(pki.NewCRL(fixtures.CRLRequest{Name: "crl-ocsp", Issuer: fixtures.RootCA, Revoked: []string{"client-ocsp-cdp"}}))
		Expect(sys.CRL.SetCRL(ctx, "ca", crl.PEM)).To(Succeed())
		mtlsAuth(ctx, map[string]any{"cert_cache_ttl": 0, "http_timeout": 500})
		consumer(ctx, cn, "")

		answer(ctx, upstream.OCSPServe, 0, "client-ocsp-cdp")
		Expect(viaTLS(ctx, "client-ocsp-cdp", "/mtls").Status).To(Equal(http.StatusUnauthorized), "OCSP revoked")
		crlHits := must(sys.CRL.Hits(ctx, "ca"))
		answer(ctx, upstream.OCSPServe, 0)
		Expect(viaTLS(ctx, "client-ocsp-cdp", "/mtls").Status).To(Equal(http.StatusOK), "OCSP good is final")
		Expect(must(sys.CRL.Hits(ctx, "ca"))).To(Equal(crlHits), "a definite OCSP answer needs no CRL")
		answer(ctx, upstream.OCSPUnreachable, 0)
		Expect(viaTLS(ctx, "client-ocsp-cdp", "/mtls").Status).To(Equal(http.StatusUnauthorized), "no OCSP answer: the CRL revokes")
		Expect(must(sys.CRL.Hits(ctx, "ca"))).To(BeNumerically(">", crlHits))
	})

	suite.It("K-MTLS-8", "ssl_verify defaults to true: an OCSP responder over HTTPS that the gateway does not trust leaves the status unknown; ssl_verify=false reads it", func(ctx SpecContext) {
		ocspClient("client-ocsp-https", ocspURL(sys.CRLTLSBaseURL), "")
		answer(ctx, upstream.OCSPServe, 0, "client-ocsp-https")
		mtlsAuth(ctx, map[string]any{"cert_cache_ttl": 0, "http_timeout": 1000})
		consumer(ctx, cn, "")
		plugin := must(sys.Admin.List(ctx, "/plugins"))[0]
		Expect(plugin["config"]).To(HaveKeyWithValue("ssl_verify", true))
		id := plugin["id"].(string)

		// The responder's certificate chains to the PKI's root, which lua_ssl_trusted_certificate
		// does not hold: verification fails, the status is unknown, and IGNORE_CA_ERROR passes it.
		Expect(viaTLS(ctx, "client-ocsp-https", "/mtls").Status).To(Equal(http.StatusOK), "ssl_verify=true: unknown")
		patch(ctx, sys, "/plugins/"+id, map[string]any{"config": map[string]any{"ssl_verify": false}})
		Expect(viaTLS(ctx, "client-ocsp-https", "/mtls").Status).To(Equal(http.StatusUnauthorized), "ssl_verify=false: the responder said revoked")
	})
})

// ocspEntries is every responder answer in every mode, with the status the gateway must give.
func ocspEntries() []TableEntry {
	type answer struct {
		name   string
		mode   upstream.OCSPMode
		revoke bool
	}
	var out []TableEntry
	for _, a := range []answer{
		{"good", upstream.OCSPServe, false},
		{"revoked", upstream.OCSPServe, true},
		{"unknown", upstream.OCSPUnknown, false},
		{"unreachable responder", upstream.OCSPUnreachable, false},
		{"slow responder (stalls past http_timeout)", upstream.OCSPSlow, false},
		{"malformed response", upstream.OCSPGarbage, false},
		{"response not signed by the issuer", upstream.OCSPMissigned, false},
		{"stale response (nextUpdate in the past)", upstream.OCSPStale, false},
		{"response for another serial", upstream.OCSPOtherSerial, false},
	} {
		for _, mode := range []string{"SKIP", "IGNORE_CA_ERROR", "STRICT"} {
			want := http.StatusOK
			switch {
			case mode == "SKIP", a.mode == upstream.OCSPServe && !a.revoke:
			case a.revoke, mode == "STRICT":
				want = http.StatusUnauthorized
			}
			out = append(out, suite.Entry("K-MTLS-8", fmt.Sprintf("OCSP %s, %s → %d", a.name, mode, want),
				mode, a.mode, a.revoke, want, SpecTimeout(framework.SpecBudget)))
		}
	}
	return out
}
