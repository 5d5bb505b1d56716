package alb_test

import (
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// Fast health checks: ALB's rule that the timeout is shorter than the interval holds, so the
// reference configured through the ELBv2 API takes them too (in its health-check seconds).
const (
	fastInterval = 0.5
	fastTimeout  = 0.4
)

// healthChecked turns on fast health checks of the echo group with path and matcher.
func healthChecked(path, matcher string, targets ...alb.Target) func(*alb.Config) {
	return func(c *alb.Config) {
		tg := &c.TargetGroups[0]
		tg.HealthCheckEnabled = nil
		tg.HealthCheckPath, tg.Matcher.HttpCode = path, matcher
		tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds = fastInterval, fastTimeout
		tg.HealthyThresholdCount, tg.UnhealthyThresholdCount = 2, 2
		if len(targets) > 0 {
			tg.Targets = targets
		}
	}
}

// deadTarget is a loopback port nothing listens on.
func deadTarget() alb.Target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	port := ln.Addr().(*net.TCPAddr).Port
	Expect(ln.Close()).To(Succeed())
	return alb.Target{Id: "127.0.0.1", Port: port}
}

// states maps each target of a group to its health state.
func states(sys *harness.ALBSystem, group string) func() []string {
	return func() []string {
		hs, err := sys.TargetHealth(group)
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, h := range hs {
			out = append(out, h.State)
		}
		return out
	}
}

var _ = Describe("Target groups", func() {
	suite.It("A-TG-1", "unhealthy targets get no traffic", func(ctx SpecContext) {
		dead := deadTarget()
		sys := start(ctx, config(alb.ModeOff, healthChecked("/status/200", "200", alb.Target{Id: harness.ALBTargetEcho}, dead)))
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).
			Should(Equal([]string{alb.StateHealthy, alb.StateUnhealthy}))
		hs, err := sys.TargetHealth(echoGroup)
		Expect(err).NotTo(HaveOccurred())
		Expect(hs[1].Reason).To(Equal("Target.FailedHealthChecks"))
		Expect(hs[1].Port).To(Equal(dead.Port))
		for i := 0; i < 10; i++ {
			Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(200), "request %d went to the dead target", i)
		}
	})

	suite.It("A-TG-1", "Matcher.HttpCode decides health: 200,403 and 200-299 forms, mismatch reported with the code", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, healthChecked("/status/403", "200")))
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateUnhealthy}))
		hs, _ := sys.TargetHealth(echoGroup)
		Expect(hs[0].Reason).To(Equal("Target.ResponseCodeMismatch"))
		Expect(hs[0].Description).To(Equal("Health checks failed with these codes: [403]"))
		Expect(sys.Apply(ctx, config(alb.ModeOff, healthChecked("/status/403", "200,403")))).To(Succeed())
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateHealthy}))
		Expect(sys.Apply(ctx, config(alb.ModeOff, healthChecked("/status/204", "200-299")))).To(Succeed())
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateHealthy}))
	})

	suite.It("A-TG-1", "a matcher outside 200-499 or malformed is refused naming it, and the running config stays", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, healthChecked("/status/200", "200")))
		for _, m := range []string{"100", "500", "200-500", "199-299", "abc", "299-200"} {
			err := sys.Apply(ctx, config(alb.ModeOff, healthChecked("/status/200", m)))
			Expect(err).To(MatchError(ContainSubstring("Matcher.HttpCode")), m)
			Expect(err).To(MatchError(ContainSubstring(strconv.Quote(m))), m)
		}
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateHealthy}))
	})

	suite.It("A-TG-1", "all targets unhealthy: the ALB fails open and routes to all", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, healthChecked("/status/500", "200")))
		Eventually(states(sys, echoGroup)).WithTimeout(framework.HealthCheckTimeout).WithPolling(20 * time.Millisecond).Should(Equal([]string{alb.StateUnhealthy}))
		r := ok(ctx, client(""), anything(sys))
		Expect(r.Status).To(Equal(200))
		Expect(r.Echo).NotTo(BeNil())
	})

	suite.It("A-TG-1", "no registered target: 503; a target that refuses connections: 502", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, func(c *alb.Config) { c.TargetGroups[0].Targets = nil }))
		r := ok(ctx, client(""), anything(sys))
		Expect(r.Status).To(Equal(503))
		Expect(string(r.Body)).To(ContainSubstring("503 Service Temporarily Unavailable"))
		Expect(sys.Apply(ctx, config(alb.ModeOff, func(c *alb.Config) { c.TargetGroups[0].Targets = []alb.Target{deadTarget()} }))).To(Succeed())
		Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(502))
	})

	suite.It("A-TG-1", "HTTPS targets: the target's certificate is not verified, and the Host header is kept", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff, func(c *alb.Config) {
			c.TargetGroups[0].Protocol = "HTTPS"
			c.TargetGroups[0].Targets = []alb.Target{{Id: harness.ALBTargetEchoTLS}}
		}))
		r := ok(ctx, client(""), anything(sys), "Host", "shop.example.test")
		Expect(r.Status).To(Equal(200))
		Expect(r.Echo.TLS).NotTo(BeNil(), "the ALB reached the target over TLS")
		Expect(r.Echo.Headers["Host"]).To(Equal("shop.example.test"))
		Expect(r.Echo.Headers["X-Forwarded-Proto"]).To(Equal("https"))
	})

	suite.It("A-TG-1", "bad target groups are refused naming the item: protocol, thresholds, unknown group", func(ctx SpecContext) {
		sys := start(ctx, config(alb.ModeOff))
		Expect(sys.Apply(ctx, config(alb.ModeOff, func(c *alb.Config) { c.TargetGroups[0].Protocol = "TCP" }))).
			To(refusedNaming(`target group "echo": Protocol`, "Protocol 'TCP'"))
		Expect(sys.Apply(ctx, config(alb.ModeOff, func(c *alb.Config) { c.TargetGroups[0].HealthyThresholdCount = 11 }))).To(MatchError(ContainSubstring("HealthyThresholdCount 11")))
		Expect(sys.Apply(ctx, config(alb.ModeOff, func(c *alb.Config) { c.Listeners[0].DefaultActions[0].TargetGroupArn = "nope" }))).
			To(refusedNaming(`TargetGroupArn "nope"`, "'nope' is not a valid target group ARN"))
		Expect(ok(ctx, client(""), anything(sys)).Status).To(Equal(200))
	})
})
