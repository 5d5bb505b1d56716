package alb_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// recordRequest makes a client note whether the server asked for a certificate and which CA
// names it advertised.
func recordRequest(asked *bool, cas *[][]byte) func(*tls.Config) {
	return func(c *tls.Config) {
		inner := c.GetClientCertificate
		c.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			*asked = true
			*cas = cri.AcceptableCAs
			if inner != nil {
				return inner(cri)
			}
			return &tls.Certificate{}, nil
		}
	}
}

// mtlsHeaders are the X-Amzn-Mtls-* headers a target saw.
func mtlsHeaders(r response) map[string]string {
	out := map[string]string{}
	for k, v := range r.Echo.Headers {
		if strings.HasPrefix(k, "X-Amzn-Mtls-") {
			out[k] = v
		}
	}
	return out
}

// serverAlert starts Go's error for a TLS alert the server sent. SPEC A-MODE-3 says only that the
// handshake fails, not which alert ALB sends (mtlsgate sends bad_certificate, OpenSSL-based
// servers certificate_required or unknown_ca), so any alert from the server will do.
const serverAlert = "remote error: tls: "

var _ = Describe("Mutual TLS modes", func() {
	suite.It("A-MODE-1", "off: no client certificate is requested, and the target gets no mTLS header", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		var asked bool
		var cas [][]byte
		r := ok(ctx, client(fixtures.Client, recordRequest(&asked, &cas)), anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(asked).To(BeFalse(), "the server sent a CertificateRequest")
		Expect(mtlsHeaders(r)).To(BeEmpty())
		Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(200))
	})

	// One entry per identity, so every identity that is not forwarded as it should be is reported.
	DescribeTable("passthrough forwards any certificate",
		func(ctx SpecContext, name string) {
			sys := start(ctx, config(alb.ModePassthrough))
			r := ok(ctx, client(name), anything(sys))
			Expect(r.Status).To(Equal(200), name)
			h := r.Echo.Headers["X-Amzn-Mtls-Clientcert"]
			Expect(h).To(HavePrefix("-----BEGIN%20CERTIFICATE-----%0A"), name)
			Expect(h).NotTo(ContainSubstring(" "))
			Expect(h).NotTo(ContainSubstring("\n"))
			Expect(h).NotTo(ContainSubstring("%2B"), "+ stays literal")
			Expect(h).NotTo(ContainSubstring("%2F"), "/ stays literal")
			Expect(h).NotTo(ContainSubstring("%3D"), "= stays literal")
			decoded, err := url.PathUnescape(h)
			Expect(err).NotTo(HaveOccurred())
			Expect(decoded).To(Equal(string(pki.Get(name).ChainPEM())), "%s: the whole chain, leaf first", name)
			if name == fixtures.ClientIntermediate {
				Expect(strings.Count(decoded, "BEGIN CERTIFICATE")).To(Equal(2))
			}
		},
		identityEntries("A-MODE-2", "passthrough: any certificate is accepted unverified and forwarded as a URL-encoded PEM chain",
			fixtures.Client, fixtures.ClientUnknownCA, fixtures.ClientExpired, fixtures.ClientSelfSigned, fixtures.ClientIntermediate),
	)

	suite.It("A-MODE-2", "passthrough without a certificate: forwarded, without the header", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModePassthrough))
		r := ok(ctx, client(""), anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(mtlsHeaders(r)).To(BeEmpty())
	})

	// One entry per refused identity, so every identity the load balancer lets through (or
	// logs with another code) is reported.
	DescribeTable("verify refuses",
		func(ctx SpecContext, identity, code string) {
			sys := start(ctx, config(alb.ModeVerify, withCRL(pkiFile("crl.pem"))))
			for _, name := range []string{fixtures.Client, fixtures.ClientIntermediate, fixtures.ClientRSA} {
				Expect(ok(ctx, client(name), anything(sys)).Status).To(Equal(200), name)
			}
			bad := refused(ctx, client(identity), anything(sys))
			Expect(bad.Err.Error()).To(ContainSubstring(serverAlert), "%q: the client sees a TLS alert", identity)
			expectLogged(sys, bad, "Failed:"+code, identity)
		},
		verifyEntry("", "ClientCertRejected"),
		verifyEntry(fixtures.ClientUnknownCA, "ClientCertUntrusted"),
		verifyEntry(fixtures.ClientSelfSigned, "ClientCertUntrusted"),
		verifyEntry(fixtures.ClientOfNotACA, "ClientCertUntrusted"),
		verifyEntry(fixtures.ClientExpired, "ClientCertExpired"),
		verifyEntry(fixtures.ClientNotYetValid, "ClientCertNotYetValid"),
		verifyEntry(fixtures.ClientRevoked, "ClientCertCrlHit"),
		verifyEntry(fixtures.ClientDeepChain, "ClientCertMaxChainDepthExceeded"),
		verifyEntry(fixtures.ClientNoClientAuth, "ClientCertPurposeInvalid"),
		verifyEntry(fixtures.ClientEd25519, "ClientCertTypeUnsupported"),
	)

	suite.It("A-MODE-3", "chain depth: four certificates below the trust anchor pass, five fail", func(ctx SpecContext) {
		_, err := pki.Issue(fixtures.Request{Name: "client-depth-4", Kind: fixtures.KindClient, Issuer: fixtures.DeepCA3, CN: "depth-4-client"})
		Expect(err).NotTo(HaveOccurred())
		Expect(pki.Get("client-depth-4").Chain).To(HaveLen(3), "leaf + deep-ca-3, -2, -1 below ca")
		sys := start(ctx, config(alb.ModeVerify))
		Expect(ok(ctx, client("client-depth-4"), anything(sys)).Status).To(Equal(200))
		deep := refused(ctx, client(fixtures.ClientDeepChain), anything(sys))
		expectLogged(sys, deep, "Failed:ClientCertMaxChainDepthExceeded")
	})

	suite.It("A-MODE-3", "verify under TLS 1.2: the handshake itself fails with a TLS alert", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		Expect(dial(ctx, sys, fixtures.ClientUnknownCA, tls12Only).Err).To(MatchError(ContainSubstring(serverAlert)))
		Expect(dial(ctx, sys, "", tls12Only).Err).To(MatchError(ContainSubstring(serverAlert)))
		good := dial(ctx, sys, fixtures.Client, tls12Only)
		Expect(good.Err).To(Succeed())
		expectLogged(sys, good, "Success")
	})

	suite.It("A-MODE-3", "IgnoreClientCertificateExpiry lets expired certificates through, nothing else", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify, func(c *alb.Config) { c.Listeners[0].MutualAuthentication.IgnoreClientCertificateExpiry = true }))
		r := ok(ctx, client(fixtures.ClientExpired), anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(r.Echo.Headers["X-Amzn-Mtls-Clientcert-Subject"]).To(Equal(pki.Get(fixtures.ClientExpired).Cert.Subject.String()))
		refused(ctx, client(fixtures.ClientNotYetValid), anything(sys))
		refused(ctx, client(fixtures.ClientUnknownCA), anything(sys))
		Expect(sys.Apply(ctx, config(alb.ModeVerify))).To(Succeed())
		refused(ctx, client(fixtures.ClientExpired), anything(sys))
	})

	suite.It("A-MODE-3", "AdvertiseTrustStoreCaNames on puts the bundle's CA names in the CertificateRequest; off (default) sends none", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		var asked bool
		var cas [][]byte
		Expect(ok(ctx, client(fixtures.Client, recordRequest(&asked, &cas)), anything(sys)).Status).To(Equal(200))
		Expect(asked).To(BeTrue())
		Expect(cas).To(BeEmpty())

		Expect(sys.Apply(ctx, config(alb.ModeVerify, func(c *alb.Config) { c.Listeners[0].MutualAuthentication.AdvertiseTrustStoreCaNames = "on" }))).To(Succeed())
		asked = false
		Expect(ok(ctx, client(fixtures.Client, recordRequest(&asked, &cas)), anything(sys)).Status).To(Equal(200))
		Expect(asked).To(BeTrue())
		var names []string
		for _, raw := range cas {
			names = append(names, string(raw))
		}
		Expect(names).To(ConsistOf(string(pki.Get(fixtures.RootCA).Cert.RawSubject), string(pki.Get(fixtures.RSARootCA).Cert.RawSubject)))
		Expect(bytes.Equal(cas[0], pki.Get(fixtures.Client).Cert.RawSubject)).To(BeFalse())
	})

	suite.It("A-MODE-3", "bad mTLS settings are refused naming the field: unknown mode, verify without a trust store, AdvertiseTrustStoreCaNames not on/off", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		Expect(sys.Apply(ctx, config("verfy"))).To(refusedNaming("MutualAuthentication.Mode", "Mutual authentication mode 'verfy'"))
		Expect(sys.Apply(ctx, config(alb.ModeVerify, func(c *alb.Config) { c.Listeners[0].MutualAuthentication.TrustStoreArn = "nope" }))).
			To(refusedNaming("TrustStoreArn", "'nope' is not a valid trust store ARN"))
		Expect(sys.Apply(ctx, config(alb.ModeVerify, func(c *alb.Config) { c.Listeners[0].MutualAuthentication.AdvertiseTrustStoreCaNames = "yes" }))).
			To(MatchError(ContainSubstring("AdvertiseTrustStoreCaNames")))
		refused(ctx, client(""), anything(sys))
	})
})

var _ = Describe("Client certificate requirements", func() {
	DescribeTable("unsupported certificate types",
		func(ctx SpecContext, name string) {
			sys := start(ctx, config(alb.ModeVerify))
			r := ok(ctx, client(fixtures.ClientRSA), anything(sys))
			Expect(r.Status).To(Equal(200))
			Expect(pki.Get(fixtures.ClientRSA).Cert.SignatureAlgorithm).To(Equal(x509.SHA256WithRSA))
			Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200))
			bad := refused(ctx, client(name), anything(sys))
			expectLogged(sys, bad, "Failed:ClientCertTypeUnsupported", name)
		},
		identityEntries("A-CERT-1", "RSA-2048 and ECDSA P-256 with SHA-256 pass; RSA-1024, SHA-1 and Ed25519 fail, logged ClientCertTypeUnsupported",
			fixtures.ClientRSA1024, fixtures.ClientSHA1, fixtures.ClientEd25519),
	)

	suite.It("A-CERT-1", "ECDSA P-384 with SHA-384 passes", func(ctx SpecContext) {
		_, err := pki.Issue(fixtures.Request{Name: "client-p384", Kind: fixtures.KindClient, Issuer: fixtures.RootCA, Key: fixtures.ECDSAP384, CN: "p384-client", SigAlg: x509.ECDSAWithSHA384})
		Expect(err).NotTo(HaveOccurred())
		sys := start(ctx, config(alb.ModeVerify))
		Expect(ok(ctx, client("client-p384"), anything(sys)).Status).To(Equal(200))
	})
})

// verifyEntry is one A-MODE-3 entry: identity ("" for none) fails the handshake, logged as code.
func verifyEntry(identity, code string) TableEntry {
	return suite.Entry("A-MODE-3", "verify: a trusted certificate passes; missing, untrusted, expired, not-yet-valid, revoked, too deep, wrong purpose or unsupported ones fail the handshake ("+
		identityName(identity)+")", identity, code)
}

// identityEntries is one table entry per identity, named text and the identity, so every
// identity that fails is reported, not only the first.
func identityEntries(id catalog.ID, text string, identities ...string) []TableEntry {
	out := make([]TableEntry, len(identities))
	for i, who := range identities {
		out[i] = suite.Entry(id, text+" ("+identityName(who)+")", who)
	}
	return out
}

// identityName names an identity in a spec's text; "" is no certificate.
func identityName(identity string) string {
	if identity == "" {
		return "no certificate"
	}
	return identity
}
