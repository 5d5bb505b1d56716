package alb_test

import (
	"crypto/tls"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// resumes reports whether a second connection of a client that kept the first one's session
// resumed it (TLS 1.3 and TLS 1.2 alike).
func resumes(ctx SpecContext, url string, version uint16) bool {
	cache := tls.NewLRUClientSessionCache(8)
	c := client(fixtures.Client, func(conf *tls.Config) {
		conf.ClientSessionCache = cache
		conf.MinVersion, conf.MaxVersion = version, version
	})
	first := ok(ctx, c, url)
	ExpectWithOffset(1, first.Status).To(Equal(http.StatusOK))
	ExpectWithOffset(1, first.TLS.DidResume).To(BeFalse())
	second := ok(ctx, c, url)
	ExpectWithOffset(1, second.Status).To(Equal(http.StatusOK))
	return second.TLS.DidResume
}

var _ = Describe("Session resumption", func() {
	versions := map[string]uint16{"TLS 1.3": tls.VersionTLS13, "TLS 1.2": tls.VersionTLS12}

	suite.It("A-MODE-1", "off: a client resumes its TLS session", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		for name, v := range versions {
			Expect(resumes(ctx, anything(sys), v)).To(BeTrue(), name)
		}
	})

	suite.It("A-MODE-2", "passthrough: session resumption is not supported, every connection is a full handshake", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModePassthrough))
		for name, v := range versions {
			Expect(resumes(ctx, anything(sys), v)).To(BeFalse(), name)
		}
	})

	suite.It("A-MODE-3", "verify: session resumption is not supported, every connection is a full handshake that verifies the certificate", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeVerify))
		for name, v := range versions {
			Expect(resumes(ctx, anything(sys), v)).To(BeFalse(), name)
		}
	})
})
