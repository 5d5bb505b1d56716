package kong_test

import (
	"crypto/tls"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
)

// The black-box specs change nothing on the gateway: they only send traffic to a route the
// target says is protected by mtls-auth. They are all an external gateway without an Admin API
// can be certified for; on every other target the harness sets the walkthrough up first.
var _ = Describe("black-box", Label(conformance.BlackBox), func() {
	var bb *harness.BlackBox
	BeforeEach(func(ctx SpecContext) {
		bb = must(sys.BlackBox(ctx, pki))
	})

	// presenting returns a curl -k-like client that presents cert (nil: none).
	presenting := func(cert *tls.Certificate, tweak ...func(*tls.Config)) *http.Client {
		return client("", append([]func(*tls.Config){func(c *tls.Config) {
			if cert != nil {
				c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
			}
		}}, tweak...)...)
	}

	DescribeTable("black-box: without a certificate",
		func(ctx SpecContext, v uint16) {
			r := get(ctx, presenting(nil, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v, v }), sys.ProxyTLSURL+bb.Path)
			Expect(r.TLS).NotTo(BeNil(), tls.VersionName(v))
			Expect(r.Status).To(Equal(http.StatusUnauthorized), tls.VersionName(v))
			Expect(r.Body).To(MatchJSON(noCertificate), tls.VersionName(v))
			if sys.ProxyURL != "" {
				r := get(ctx, presenting(nil), sys.ProxyURL+bb.Path)
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
				Expect(r.Body).To(MatchJSON(noCertificate))
			}
		},
		suite.Entry("K-MTLS-1", "black-box: TLS 1.3 and 1.2 without a certificate complete the handshake, then 401; plain HTTP too (TLS 1.3)", uint16(tls.VersionTLS13)),
		suite.Entry("K-MTLS-1", "black-box: TLS 1.3 and 1.2 without a certificate complete the handshake, then 401; plain HTTP too (TLS 1.2)", uint16(tls.VersionTLS12)),
	)

	// This run's PKI is fresh, so no gateway but one this run configured can trust its unknown
	// CA; the reference targets trust its root, whose children are not used here.
	DescribeTable("black-box: a certificate the gateway cannot trust",
		func(ctx SpecContext, id string) {
			cert := pki.Get(id).TLSCertificate()
			r := get(ctx, presenting(&cert), sys.ProxyTLSURL+bb.Path)
			Expect(r.Status).To(Equal(http.StatusUnauthorized), id)
			Expect(r.Body).To(MatchJSON(failedVerify), id)
			r = get(ctx, presenting(&bb.Accepted), sys.ProxyTLSURL+bb.Path)
			Expect(r.Status).To(Equal(http.StatusOK), "the accepted certificate, the positive control: %s", r.Body)
		},
		badIdentityEntries("K-MTLS-2", "black-box: certificates from a CA the gateway cannot know and self-signed ones → 401; the accepted one → 200",
			fixtures.ClientUnknownCA, fixtures.ClientSelfSigned),
	)
})
