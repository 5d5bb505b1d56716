package alb_test

import (
	"crypto/tls"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// blackBox is the listener the black-box spec sends traffic to: the target's own (an ALB someone
// else runs, with the certificates they supplied), or one the suite starts in verify mode on
// ELBSecurityPolicy-TLS13-1-3-2021-06 with ca's CRL, presenting the PKI's identities.
func blackBox(ctx SpecContext) *harness.ALBBlackBox {
	if bt, ok := target.(harness.ALBBlackBoxTarget); ok {
		bb, err := bt.StartALBBlackBox(ctx)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry(conformance.TargetVersionEntry, bb.Version, ReportEntryVisibilityFailureOrVerbose)
		return bb
	}
	sys := start(ctx, config(alb.ModeVerify, withCRL(pkiFile("crl.pem")), withPolicy("ELBSecurityPolicy-TLS13-1-3-2021-06")))
	return &harness.ALBBlackBox{URL: anything(sys), Good: pki.Get(fixtures.Client).TLSCertificate(), Refused: map[string]tls.Certificate{
		harness.BlackBoxUntrusted: pki.Get(fixtures.ClientUnknownCA).TLSCertificate(),
		harness.BlackBoxExpired:   pki.Get(fixtures.ClientExpired).TLSCertificate(),
		harness.BlackBoxRevoked:   pki.Get(fixtures.ClientRevoked).TLSCertificate(),
	}}
}

// presenting is a client (like curl -k, one handshake per request) that presents cert, if any.
func presenting(cert *tls.Certificate, tweak ...func(*tls.Config)) *http.Client {
	return client("", append([]func(*tls.Config){func(c *tls.Config) {
		if cert != nil {
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
	}}, tweak...)...)
}

var _ = Describe("Black box", func() {
	const text = "black box: the good client gets 200; missing, untrusted, expired and revoked certificates and TLS 1.2 fail the handshake"
	// One entry per refused certificate, so every one the load balancer accepts is reported.
	DescribeTable("black box refuses",
		func(ctx SpecContext, name string) {
			bb := blackBox(ctx)
			Expect(ok(ctx, presenting(&bb.Good), bb.URL).Status).To(Equal(http.StatusOK), "the good client at %s", bb.URL)
			if name == "" {
				refused(ctx, presenting(nil), bb.URL)
				refused(ctx, presenting(&bb.Good, tls12Only), bb.URL)
				return
			}
			cert, given := bb.Refused[name]
			if !given {
				AddReportEntry("not checked", "no "+name+" client certificate was supplied", ReportEntryVisibilityFailureOrVerbose)
				return
			}
			By("the " + name + " client certificate")
			refused(ctx, presenting(&cert), bb.URL)
		},
		suite.Entry("A-MODE-3", text+" (no certificate, TLS 1.2)", "", Label(conformance.BlackBox)),
		suite.Entry("A-MODE-3", text+" ("+harness.BlackBoxUntrusted+")", harness.BlackBoxUntrusted, Label(conformance.BlackBox)),
		suite.Entry("A-MODE-3", text+" ("+harness.BlackBoxExpired+")", harness.BlackBoxExpired, Label(conformance.BlackBox)),
		suite.Entry("A-MODE-3", text+" ("+harness.BlackBoxRevoked+")", harness.BlackBoxRevoked, Label(conformance.BlackBox)),
	)
})
