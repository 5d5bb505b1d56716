package alb_test

import (
	"crypto/tls"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

var _ = Describe("Defaults AWS documents", func() {
	suite.It("A-POL-1", "a listener created without SslPolicy gets the API's default, ELBSecurityPolicy-2016-08: TLS 1.0–1.2, no TLS 1.3", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, func(c *alb.Config) { c.Listeners[0].SslPolicy = "" }))
		r := ok(ctx, client(""), anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(r.TLS.Version).To(Equal(uint16(tls.VersionTLS12)), "the best a TLS 1.3 client gets")
		tls13Only := func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }
		Expect(refused(ctx, client("", tls13Only), anything(sys)).Err).To(MatchError(ContainSubstring("protocol version")))
		tls10 := func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 }
		Expect(ok(ctx, client("", tls10), anything(sys)).TLS.Version).To(Equal(uint16(tls.VersionTLS10)))
	})

	for listener, want := range map[string]string{
		"ELBSecurityPolicy-TLS13-1-2-2021-06": "TLSv1.3", // → ELBSecurityPolicy-TLS13-1-0-2021-06
		"ELBSecurityPolicy-2016-08":           "TLSv1.2", // → ELBSecurityPolicy-2016-08
	} {
		suite.It("A-TG-1", "the policy towards HTTPS targets follows the listener's: behind "+listener+" the target sees "+want, func(ctx SpecContext) {
			sys := start(ctx, config(alb.ModeOff, withPolicy(listener), func(c *alb.Config) {
				c.TargetGroups[0].Protocol = "HTTPS"
				c.TargetGroups[0].Targets = []alb.Target{{Id: harness.ALBTargetEchoTLS}}
			}))
			r := ok(ctx, client(""), anything(sys))
			Expect(r.Status).To(Equal(200))
			Expect(r.Echo.TLS).NotTo(BeNil(), "the ALB reached the target over TLS")
			Expect(r.Echo.TLS.Version).To(Equal(want))
		})
	}
})
