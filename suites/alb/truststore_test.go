package alb_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

var _ = Describe("Trust stores", func() {
	// withBundle points the trust store at a bundle file.
	withBundle := func(path string) func(*alb.Config) {
		return func(c *alb.Config) { c.TrustStores[0].CaCertificatesBundleFile = path }
	}

	suite.It("A-TS-1", "a PEM bundle with # comment lines loads, and verify mode trusts its CAs", func(ctx SpecContext) {
		bundle := "# mtlsgate root\n" + string(pki.Get(fixtures.RootCA).CertPEM()) + "# the intermediate\n" + string(pki.Get(fixtures.IntermediateCA).CertPEM())
		sys := start(ctx, config(alb.ModeVerify, withBundle(writeFile("commented.pem", bundle))))
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200))
		Expect(ok(ctx, client(fixtures.ClientIntermediate), anything(sys)).Status).To(Equal(200))
		refused(ctx, client(fixtures.ClientRSA), anything(sys)) // ca-rsa is not in this bundle
	})

	suite.It("A-TS-1", `a "root" without the CA basic constraint is refused with ALB's message, and nothing changes`, func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		err := sys.Apply(ctx, config(alb.ModeVerify, withBundle(bundleOf(fixtures.NotACA))))
		Expect(err).To(MatchError(ContainSubstring("The basic constraints extension must specify that the certificate is for a CA")))
		// A bundle with a good CA and the trap fails whole.
		err = sys.Apply(ctx, config(alb.ModeVerify, withBundle(bundleOf(fixtures.RootCA, fixtures.NotACA))))
		Expect(err).To(MatchError(ContainSubstring("The basic constraints extension must specify that the certificate is for a CA")))
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200), "the last good trust store stays")
		refused(ctx, client(fixtures.ClientOfNotACA), anything(sys))
	})

	suite.It("A-TS-1", "a bundle with blank lines, non-PEM text or a corrupt certificate is InvalidCaCertificatesBundle", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		root := string(pki.Get(fixtures.RootCA).CertPEM())
		rsa := string(pki.Get(fixtures.RSARootCA).CertPEM())
		corrupt := strings.Replace(root, root[40:60], strings.Repeat("A", 20), 1)
		for name, bundle := range map[string]string{
			"blank line between certificates": root + "\n" + rsa,
			"leading blank line":              "\n" + root,
			"non-PEM text":                    "this is my CA\n" + root,
			"a comment with a - character":    "# root CA - production\n" + root,
			"DER in PEM armour, corrupted":    corrupt,
			"a private key":                   string(must(pki.Get(fixtures.RootCA).KeyPEM())),
			"empty":                           "",
		} {
			err := sys.Apply(ctx, config(alb.ModeVerify, withBundle(writeFile("bad.pem", bundle))))
			Expect(err).To(MatchError(ContainSubstring(alb.ErrTextInvalidBundle)), name)
		}
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200), "the last good trust store stays")
	})

	suite.It("A-TS-1", "more than 25 CAs, or a CA certificate over 16 KB, is refused naming the limit", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		var many []string
		for i := 0; i < 26; i++ {
			many = append(many, fixtures.RootCA)
		}
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withBundle(bundleOf(many[:25]...))))).To(Succeed(), "25 CAs are allowed")
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withBundle(bundleOf(many...))))).To(MatchError(ContainSubstring("at most 25")))

		var names []string
		for i := 0; i < 600; i++ {
			names = append(names, fmt.Sprintf("host-%03d.a-rather-long-domain-name.example.test", i))
		}
		big, err := pki.Issue(fixtures.Request{Name: "big-ca", Kind: fixtures.KindCA, IsCA: true, CN: "Big CA", DNSNames: names})
		Expect(err).NotTo(HaveOccurred())
		Expect(len(big.CertPEM())).To(BeNumerically(">", 16*1024))
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withBundle(bundleOf(fixtures.RootCA, "big-ca"))))).To(MatchError(ContainSubstring("16 KB")))
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200))
	})
})

var _ = Describe("Revocation lists", func() {
	suite.It("A-TS-2", "a CRL added while serving revokes for new handshakes, without a restart", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		Expect(ok(ctx, client(fixtures.ClientRevoked), anything(sys)).Status).To(Equal(200), "not revoked yet")
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withCRL(pkiFile("crl.pem"))))).To(Succeed())
		revoked := refused(ctx, client(fixtures.ClientRevoked), anything(sys))
		expectLogged(sys, revoked, "Failed:ClientCertCrlHit")
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200), "others are unaffected")
		Expect(sys.Apply(ctx, config(alb.ModeVerify))).To(Succeed())
		Expect(ok(ctx, client(fixtures.ClientRevoked), anything(sys)).Status).To(Equal(200), "removing the CRL takes effect too")
	})

	suite.It("A-TS-2", "a bad replacement is InvalidRevocationContent and the last good CRL stays", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify, withCRL(pkiFile("crl.pem"))))
		for name, file := range map[string]string{
			"corrupt":                          pkiFile("crl-corrupt.pem"),
			"issued by a CA not in the bundle": pkiFile("crl-unknown-ca.pem"),
			"not a CRL at all":                 pkiFile("ca.crt"),
		} {
			err := sys.Apply(ctx, config(alb.ModeVerify, withCRL(file)))
			Expect(err).To(MatchError(ContainSubstring(alb.ErrTextInvalidRevocation)), name)
		}
		refused(ctx, client(fixtures.ClientRevoked), anything(sys))
		Expect(ok(ctx, client(fixtures.Client), anything(sys)).Status).To(Equal(200))
	})

	suite.It("A-TS-2", "at most 30 revocation lists per trust store", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		var files []string
		for i := 0; i < 31; i++ {
			files = append(files, pkiFile("crl.pem"))
		}
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withCRL(files[:30]...)))).To(Succeed())
		Expect(sys.Apply(ctx, config(alb.ModeVerify, withCRL(files...)))).To(MatchError(ContainSubstring("at most 30")))
	})

	suite.It("A-TS-2", "a certificate with a negative serial cannot be revoked", func(ctx SpecContext) {
		crl, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-negative", Issuer: fixtures.RootCA,
			Revoked: []string{fixtures.ClientNegativeSerial, fixtures.ClientRevoked}})
		Expect(err).NotTo(HaveOccurred())
		sys := start(ctx, config(alb.ModeVerify, withCRL(writeFile("crl-negative.pem", string(crl.PEM)))))
		Expect(ok(ctx, client(fixtures.ClientNegativeSerial), anything(sys)).Status).To(Equal(200))
		refused(ctx, client(fixtures.ClientRevoked), anything(sys))
	})
})

// must fails the spec on err and returns v.
func must[T any](v T, err error) T {
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return v
}
