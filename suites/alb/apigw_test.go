package alb_test

import (
	"crypto/tls"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// forbidden is API Gateway's answer to a Host without a custom domain mapping.
const forbidden = `{"message":"Forbidden"}`

// petStoreDomain maps apiHost's root to the prod stage of the Pet Store.
func petStoreDomain() apigw.Domain {
	return apigw.Domain{Name: apiHost, Mappings: []apigw.Mapping{{BasePath: "", Stage: "prod", API: apigw.APIPetStore}}}
}

// apigwGroup makes the listener forward to the API Gateway stand-in over HTTPS, health-checked
// at / with matcher.
func apigwGroup(matcher string) func(*alb.Config) {
	return func(c *alb.Config) {
		c.TargetGroups = []alb.TargetGroup{{TargetGroupName: "apigw", Protocol: "HTTPS", Targets: []alb.Target{{Id: harness.ALBTargetAPIGW}},
			HealthCheckPath: "/", HealthCheckIntervalSeconds: fastInterval, HealthCheckTimeoutSeconds: fastTimeout,
			HealthyThresholdCount: 2, UnhealthyThresholdCount: 2, Matcher: alb.Matcher{HttpCode: matcher}}}
		c.Listeners[0].DefaultActions[0].TargetGroupArn = "apigw"
	}
}

// pets decodes a Pet Store list.
func pets(r response) []apigw.Pet {
	var out []apigw.Pet
	ExpectWithOffset(1, json.Unmarshal(r.Body, &out)).To(Succeed(), "not a pet list: %s", r.Body)
	return out
}

var _ = Describe("Private API Gateway stand-in", func() {
	suite.It("A-APIGW-1", "directly: TLS 1.2 only; 403 Forbidden unless Host is a mapped custom domain; then the Pet Store", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		tls13 := func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }
		_, err := fetch(ctx, client("", tls13), sys.APIGWURL+"/pets")
		Expect(err).To(MatchError(ContainSubstring("protocol version")), "a TLS 1.3-only client cannot connect")
		r := ok(ctx, client("", tls12Only), sys.APIGWURL+"/pets", "Host", apiHost)
		Expect(r.Status).To(Equal(403))
		Expect(string(r.Body)).To(Equal(forbidden))
		Expect(sys.SetAPIGWDomains([]apigw.Domain{petStoreDomain()})).To(Succeed())
		r = ok(ctx, client(""), sys.APIGWURL+"/pets", "Host", apiHost)
		Expect(r.Status).To(Equal(200))
		Expect(r.TLS.Version).To(Equal(uint16(tls.VersionTLS12)))
		Expect(pets(r)).To(Equal(apigw.Pets()))
		Expect(ok(ctx, client(""), sys.APIGWURL+"/pets").Status).To(Equal(403), "the bare address is still not a custom domain")
	})

	suite.It("A-APIGW-1", "through the ALB: the health check needs matcher 403, and the mapped domain reaches the Pet Store", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, apigwGroup("200")))
		Eventually(states(sys, "apigw")).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateUnhealthy}))
		hs, _ := sys.TargetHealth("apigw")
		Expect(hs[0].Description).To(Equal("Health checks failed with these codes: [403]"))
		Expect(sys.Apply(ctx, config(alb.ModeOff, apigwGroup("403")))).To(Succeed())
		Eventually(states(sys, "apigw")).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateHealthy}))
		Expect(sys.SetAPIGWDomains([]apigw.Domain{petStoreDomain()})).To(Succeed())
		r := ok(ctx, client(""), sys.ListenerURLs[0]+"/pets/2", "Host", apiHost)
		Expect(r.Status).To(Equal(200))
		Expect(string(r.Body)).To(ContainSubstring(`"type":"cat"`))
	})
})

var _ = Describe("The ALB trust store in front of a private API Gateway, step by step", Ordered, func() {
	var sys *harness.ALBSystem
	// listenerCfg is the story's listener: TLS 1.3 only, forwarding to the API Gateway.
	listenerCfg := func(mode, matcher string, tweak ...func(*alb.Config)) alb.Config {
		return config(mode, append([]func(*alb.Config){apigwGroup(matcher), withPolicy("ELBSecurityPolicy-TLS13-1-3-2021-06")}, tweak...)...)
	}
	petsURL := func() string { return sys.ListenerURLs[0] + "/pets" }

	suite.It("A-APIGW-1", "the seed story, in order", func(ctx SpecContext) {
		// conns are the connections through the listener, in order, for the connection log.
		var conns []conn
		via := func(r response) response { conns = append(conns, r.Conn); return r }
		no := func(c conn) conn { conns = append(conns, c); return c }

		By("1. an ALB without mTLS in front of the API Gateway: Forbidden")
		sys = start(ctx, listenerCfg(alb.ModeOff, "200"))
		r := via(ok(ctx, client(""), petsURL(), "Host", apiHost))
		Expect(r.Status).To(Equal(403))
		Expect(string(r.Body)).To(Equal(forbidden))

		By("2. add the custom domain and its API mapping: the Pet Store answers")
		Expect(sys.SetAPIGWDomains([]apigw.Domain{petStoreDomain()})).To(Succeed())
		r = via(ok(ctx, client(""), petsURL(), "Host", apiHost))
		Expect(r.Status).To(Equal(200))
		Expect(pets(r)).To(Equal(apigw.Pets()))

		By("3. health checks fail with matcher 200 and pass only with 403")
		Eventually(states(sys, "apigw")).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateUnhealthy}))
		Expect(sys.Apply(ctx, listenerCfg(alb.ModeOff, "403"))).To(Succeed())
		Eventually(states(sys, "apigw")).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateHealthy}))

		By("4. a trust store from a root without the CA basic constraint: refused")
		err := sys.Apply(ctx, listenerCfg(alb.ModeVerify, "403", func(c *alb.Config) { c.TrustStores[0].CaCertificatesBundleFile = pkiFile("not-a-ca.crt") }))
		Expect(err).To(MatchError(ContainSubstring("The basic constraints extension must specify that the certificate is for a CA")))
		Expect(via(ok(ctx, client(""), petsURL(), "Host", apiHost)).Status).To(Equal(200), "the listener still runs without mTLS")

		By("5. a trust store from the good root: the right certificate gets the Pet Store")
		Expect(sys.Apply(ctx, listenerCfg(alb.ModeVerify, "403", func(c *alb.Config) { c.TrustStores[0].CaCertificatesBundleFile = pkiFile("ca.crt") }))).To(Succeed())
		r = via(ok(ctx, client(fixtures.Client), petsURL(), "Host", apiHost))
		Expect(r.Status).To(Equal(200))
		Expect(pets(r)).To(Equal(apigw.Pets()))

		By("6. a wrong or missing certificate, or a TLS 1.2-only client, cannot connect")
		no(refused(ctx, client(fixtures.ClientUnknownCA), petsURL()))
		no(refused(ctx, client(""), petsURL()))
		Expect(no(refused(ctx, client(fixtures.Client, tls12Only), petsURL())).Err.Error()).To(ContainSubstring("protocol version not supported"))

		By("7. a revoked certificate connects until the CRL is added, then cannot")
		Expect(via(ok(ctx, client(fixtures.ClientRevoked), petsURL(), "Host", apiHost)).Status).To(Equal(200))
		Expect(sys.Apply(ctx, listenerCfg(alb.ModeVerify, "403", func(c *alb.Config) {
			c.TrustStores[0].CaCertificatesBundleFile = pkiFile("ca.crt")
		}, withCRL(pkiFile("crl.pem"))))).To(Succeed())
		no(refused(ctx, client(fixtures.ClientRevoked), petsURL()))
		Expect(via(ok(ctx, client(fixtures.Client), petsURL(), "Host", apiHost)).Status).To(Equal(200))

		if !writesConnectionLog() {
			return
		}
		By("the connection log has one line per connection with its status")
		var statuses []string
		for _, e := range logged(sys, conns...) {
			statuses = append(statuses, e.VerifyStatus)
		}
		Expect(statuses).To(Equal([]string{"Success", "Success", "Success", "Success", "Failed:ClientCertUntrusted", "Failed:ClientCertRejected",
			"Failed:UnmappedConnectionError", "Success", "Failed:ClientCertCrlHit", "Success"}))
	})
})
