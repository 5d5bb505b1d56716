// Package alb_test is the ALB profile's conformance suite: one or more specs per SPEC §2 ID,
// run against the target MTLSGATE_TARGET selects (the in-process reference by default). Each
// spec starts its own load balancer from a configuration in reference/alb's ELBv2-shaped types.
package alb_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
)

func TestALB(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ALB profile")
}

// Suite-wide state, set once per Ginkgo process in BeforeSuite.
var (
	// Every spec not labelled black-box starts its own scenario (harness.ALBTarget).
	suite = conformance.NewSuite(catalog.ALB).ConfiguresThrough(catalog.ALBConfig)
	pki   *fixtures.PKI
	// pkiDir holds the PKI as files, which configurations name.
	pkiDir string
	at     harness.ALBTarget
	target harness.Target
)

var _ = BeforeSuite(func(ctx SpecContext) {
	t, err := harness.FromEnv()
	Expect(err).NotTo(HaveOccurred())
	suite.SetTarget(t)
	target = t
	// A target that cannot start an ALB system claims no ALB ID, so Admit skips every spec as not
	// supported; start fails loudly if one claims IDs anyway.
	at, _ = t.(harness.ALBTarget)
	// Every spec starts a system; what they share (a container target's image and upstreams) is
	// made once, here, outside the specs' timeouts.
	if k, ok := t.(harness.SharedKeeper); ok {
		release, err := k.KeepShared(ctx)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(release)
	}
	pki, err = fixtures.Generate(ctx, fixtures.Options{})
	Expect(err).NotTo(HaveOccurred())
	pkiDir = GinkgoT().TempDir()
	Expect(pki.WriteDir(pkiDir)).To(Succeed())
})

// Admit runs first: a spec the target does not claim is skipped before any setup.
var _ = suite.Admit()
