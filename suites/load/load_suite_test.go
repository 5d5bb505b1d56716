// Package load_test is the Load profile's conformance suite (SPEC §3): short, bounded attacks on
// the target MTLSGATE_TARGET selects (the in-process reference by default), each classified by
// the simulator itself, so a gateway that lets one revoked request through fails the run.
package load_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load/scenario"
)

func TestLoad(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Load profile")
}

// Suite-wide state, set once per Ginkgo process in BeforeSuite.
var (
	suite = conformance.NewSuite(catalog.Load)
	// target is the target under test; an ALB-profile attack starts its own system on it.
	target harness.Target
	pki    *fixtures.PKI
	sys    *harness.KongSystem
	kong   *scenario.Kong
)

// cacheTTL is mtls-auth's cert_cache_ttl in the suite: it bounds how late a revocation may be
// enforced, so L-3's bound is stated from it.
const cacheTTL = 300 * time.Millisecond

var _ = BeforeSuite(func(ctx SpecContext) {
	t, err := harness.FromEnv()
	Expect(err).NotTo(HaveOccurred())
	suite.SetTarget(t)
	target = t
	if suite.Idle() {
		return // every spec will be skipped as not supported: start nothing
	}
	kt, ok := t.(harness.KongTarget)
	Expect(ok).To(BeTrue(), "target %s cannot run a Kong-profile system to attack", t.Name())
	pki, err = fixtures.Generate(ctx, fixtures.Options{})
	Expect(err).NotTo(HaveOccurred())
	sys, err = kt.StartKong(ctx, harness.KongSetup{PKI: pki})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sys.Stop)
	AddReportEntry(conformance.TargetVersionEntry, sys.Version, ReportEntryVisibilityNever)
})

// Admit runs first: a spec the target does not claim is skipped before any setup.
var _ = suite.Admit()

// crlFetchTimeout is mtls-auth's http_timeout in these specs. Under IGNORE_CA_ERROR a CRL fetch
// that outlasts it lets a revoked certificate through, as in Kong: a machine busy with other suites
// must not turn that into a violation, so the fetch gets room; the revocation bound (cert_cache_ttl
// + http_timeout) follows it.
const crlFetchTimeout = 3 * time.Second

// Every spec attacks a freshly configured gateway (entities reset, CRL revoking client-revoked).
var _ = BeforeEach(func(ctx SpecContext) {
	var err error
	kong, err = scenario.ConfigureKong(ctx, sys, pki, scenario.KongOptions{CertCacheTTL: cacheTTL, HTTPTimeout: crlFetchTimeout})
	Expect(err).NotTo(HaveOccurred())
})
