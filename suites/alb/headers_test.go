package alb_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

var _ = Describe("Headers to targets", func() {
	DescribeTable("verify mode's certificate headers",
		func(ctx SpecContext, name string) {
			sys := start(ctx, config(alb.ModeVerify))
			leaf := pki.Get(name).Cert
			h := ok(ctx, client(name), anything(sys)).Echo.Headers
			Expect(h["X-Amzn-Mtls-Clientcert-Serial-Number"]).To(Equal(strings.ToUpper(leaf.SerialNumber.Text(16))), name)
			Expect(h["X-Amzn-Mtls-Clientcert-Serial-Number"]).To(MatchRegexp(`^[0-9A-F]+$`), "uppercase hex, no colons")
			Expect(h["X-Amzn-Mtls-Clientcert-Issuer"]).To(Equal(leaf.Issuer.String()))
			Expect(h["X-Amzn-Mtls-Clientcert-Subject"]).To(Equal(leaf.Subject.String()))
			Expect(h["X-Amzn-Mtls-Clientcert-Validity"]).To(Equal("NotBefore=" + leaf.NotBefore.UTC().Format("2006-01-02T15:04:05Z") +
				";NotAfter=" + leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")))
			leafPEM, err := url.PathUnescape(h["X-Amzn-Mtls-Clientcert-Leaf"])
			Expect(err).NotTo(HaveOccurred())
			Expect(leafPEM).To(Equal(string(pki.Get(name).CertPEM())), "the leaf alone, not the chain")
			Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Clientcert"), "the passthrough header is not sent in verify mode")
			Expect(pki.Get(fixtures.Client).Cert.Subject.String()).To(Equal("CN=demo@apim.eu,O=mtlsgate"), "RFC 2253: most specific first")
		},
		identityEntries("A-HDR-1", "verify mode sends the leaf's serial, issuer, subject, validity and PEM in ALB's formats",
			fixtures.Client, fixtures.ClientIntermediate, fixtures.ClientRSA),
	)

	suite.It("A-HDR-1", "the validity format matches ALB's example NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		v := ok(ctx, client(fixtures.Client), anything(sys)).Echo.Headers["X-Amzn-Mtls-Clientcert-Validity"]
		Expect(v).To(MatchRegexp(`^NotBefore=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ;NotAfter=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))
		m := regexp.MustCompile(`NotAfter=(.*)$`).FindStringSubmatch(v)
		notAfter, err := time.Parse(time.RFC3339, m[1])
		Expect(err).NotTo(HaveOccurred())
		Expect(notAfter).To(BeTemporally("==", pki.Get(fixtures.Client).Cert.NotAfter))
	})

	suite.It("A-HDR-1", "listener attributes rename the headers", func(ctx SpecContext) {
		rename := map[string]string{
			alb.HeaderSubject: "X-Client-Subject", alb.HeaderSerialNumber: "X-Client-Serial", alb.HeaderIssuer: "X-Client-Issuer",
			alb.HeaderValidity: "X-Client-Validity", alb.HeaderLeaf: "X-Client-Leaf",
		}
		sys := start(ctx, config(alb.ModeVerify, func(c *alb.Config) {
			for h, n := range rename {
				c.Listeners[0].Attributes = append(c.Listeners[0].Attributes, alb.Attribute{Key: alb.HeaderAttribute(h), Value: n})
			}
		}))
		Expect(alb.HeaderAttribute(alb.HeaderSubject)).To(Equal("routing.http.request.x_amzn_mtls_clientcert_subject.header_name"))
		h := ok(ctx, client(fixtures.Client), anything(sys)).Echo.Headers
		Expect(h["X-Client-Subject"]).To(Equal(pki.Get(fixtures.Client).Cert.Subject.String()))
		Expect(h["X-Client-Serial"]).To(Equal(strings.ToUpper(pki.Get(fixtures.Client).Cert.SerialNumber.Text(16))))
		Expect(h).To(HaveKey("X-Client-Leaf"))
		for k := range h {
			Expect(k).NotTo(HavePrefix("X-Amzn-Mtls-"), "renamed headers are not also sent under their default names")
		}
		// Passthrough's header renames the same way.
		Expect(sys.Apply(ctx, config(alb.ModePassthrough, func(c *alb.Config) {
			c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderClientCert), Value: "X-Client-Chain"}}
		}))).To(Succeed())
		h = ok(ctx, client(fixtures.Client), anything(sys)).Echo.Headers
		Expect(h).To(HaveKey("X-Client-Chain"))
		Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Clientcert"))
		// An unknown attribute or a bad header name is refused, naming it.
		Expect(sys.Apply(ctx, config(alb.ModeVerify, func(c *alb.Config) {
			c.Listeners[0].Attributes = []alb.Attribute{{Key: "routing.http.request.x_amzn_mtls_clientcert_subjct.header_name", Value: "X-S"}}
		}))).To(MatchError(ContainSubstring("x_amzn_mtls_clientcert_subjct")))
		Expect(sys.Apply(ctx, config(alb.ModeVerify, func(c *alb.Config) {
			c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderSubject), Value: "bad header"}}
		}))).To(MatchError(ContainSubstring("not a valid header name")))
	})

	suite.It("A-HDR-2", "X-Amzn-Mtls-* headers a client sends are removed before forwarding, in every mode", func(ctx SpecContext) {
		spoof := []string{
			"X-Amzn-Mtls-Clientcert-Subject", "CN=admin", "X-Amzn-Mtls-Clientcert", "forged",
			"X-Amzn-Mtls-Clientcert-Serial-Number", "01", "X-Amzn-Mtls-Anything", "x", "X-Client-Subject", "CN=admin",
		}
		for _, mode := range []string{alb.ModeOff, alb.ModePassthrough, alb.ModeVerify} {
			sys := start(ctx, config(mode, func(c *alb.Config) {
				c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderSubject), Value: "X-Client-Subject"}}
			}))
			h := ok(ctx, client(fixtures.Client), anything(sys), spoof...).Echo.Headers
			Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Anything"), mode)
			if mode == alb.ModeVerify {
				Expect(h["X-Amzn-Mtls-Clientcert-Serial-Number"]).To(Equal(strings.ToUpper(pki.Get(fixtures.Client).Cert.SerialNumber.Text(16))))
			} else {
				Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Clientcert-Serial-Number"), mode)
			}
			Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Clientcert-Subject"), "%s: renamed to X-Client-Subject, so the default name is never sent", mode)
			switch mode {
			case alb.ModeOff:
				Expect(h).NotTo(HaveKey("X-Amzn-Mtls-Clientcert"))
				Expect(h).NotTo(HaveKey("X-Client-Subject"))
			case alb.ModePassthrough:
				Expect(h["X-Amzn-Mtls-Clientcert"]).To(HavePrefix("-----BEGIN%20CERTIFICATE"))
				Expect(h).NotTo(HaveKey("X-Client-Subject"))
			case alb.ModeVerify:
				Expect(h["X-Client-Subject"]).To(Equal(pki.Get(fixtures.Client).Cert.Subject.String()), "the renamed header carries the real subject")
			}
		}
	})
})

// shortSerialClient is a client certificate from the root CA with AWS's example serial 03A5B1,
// whose first byte is below 0x10: written as whole bytes it keeps its leading zero.
func shortSerialClient() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	root := pki.Get(fixtures.RootCA)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x03A5B1), Subject: pkix.Name{CommonName: "short-serial", Organization: []string{"mtlsgate"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, &key.PublicKey, root.Key)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var _ = Describe("Serial numbers", func() {
	suite.It("A-HDR-1", "the serial number is whole bytes of uppercase hex: AWS's example 03A5B1 keeps its leading zero, in the header and the connection log", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		cert := shortSerialClient()
		c := client("", func(conf *tls.Config) {
			conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		})
		r := ok(ctx, c, anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Amzn-Mtls-Clientcert-Serial-Number", "03A5B1"))
		if writesConnectionLog() {
			Expect(logged(sys, r.Conn)[0].Serial).To(Equal("03A5B1"))
		}
	})
})
