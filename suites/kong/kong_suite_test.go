// Package kong_test is the Kong profile's conformance suite: one or more specs per SPEC §1 ID,
// run against the target MTLSGATE_TARGET selects (the in-process reference by default).
package kong_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
)

func TestKong(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kong profile")
}

// Suite-wide state, set once per Ginkgo process in BeforeSuite.
var (
	suite = conformance.NewSuite(catalog.Kong).ConfiguresThrough(catalog.AdminAPI)
	pki   *fixtures.PKI
	// pkiDir holds the PKI as files, for kong.conf settings that name them.
	pkiDir string
	sys    *harness.KongSystem
	kt     harness.KongTarget
)

var _ = BeforeSuite(func(ctx SpecContext) {
	t, err := harness.FromEnv()
	Expect(err).NotTo(HaveOccurred())
	suite.SetTarget(t)
	if suite.Idle() {
		return
	}
	var ok bool
	kt, ok = t.(harness.KongTarget)
	Expect(ok).To(BeTrue(), "target %s cannot run the Kong profile", t.Name())
	pki, err = fixtures.Generate(ctx, fixtures.Options{})
	Expect(err).NotTo(HaveOccurred())
	// A second valid client, with the intermediate in its chain, for specs that need two people.
	_, err = pki.Issue(fixtures.Request{Name: "client-intermediate-trusted", Kind: fixtures.KindClient,
		Issuer: fixtures.IntermediateCA, CN: "trusted-intermediate-client"})
	Expect(err).NotTo(HaveOccurred())
	pkiDir = GinkgoT().TempDir()
	Expect(pki.WriteDir(pkiDir)).To(Succeed())
	sys, err = kt.StartKong(ctx, harness.KongSetup{PKI: pki})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sys.Stop)
	AddReportEntry(conformance.TargetVersionEntry, sys.Version, ReportEntryVisibilityNever)
})

// Admit runs first: a spec the target does not claim is skipped before any setup.
var _ = suite.Admit()

// Every spec starts from an empty gateway, where the target lets the suite configure it (a
// black-box target has no Admin API; Admit has skipped every spec that would need one).
var _ = BeforeEach(func(ctx SpecContext) {
	if sys != nil && sys.Admin != nil {
		Expect(sys.Admin.Reset(ctx)).To(Succeed())
	}
})
