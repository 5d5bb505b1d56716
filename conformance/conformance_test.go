package conformance_test

import (
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/conformance/record"
)

// fakeTarget claims K-MTLS-2, -3, -4, -6 and -7 only, and supports no extra feature but
// declarative configuration, not even the Admin API the suite configures its scenarios through.
type fakeTarget struct{}

func (fakeTarget) Name() string { return "fake" }
func (fakeTarget) Claims(id catalog.ID) (bool, string) {
	return id == "K-MTLS-2" || id == "K-MTLS-3" || id == "K-MTLS-4" || id == "K-MTLS-6" || id == "K-MTLS-7", "fake claims little"
}
func (fakeTarget) Supports(f catalog.Feature) (bool, string) {
	return f == catalog.Declarative, "fake has no extras"
}

var suite = conformance.NewSuite(catalog.Kong).ConfiguresThrough(catalog.AdminAPI)

func TestAdmit(t *testing.T) {
	t.Setenv(conformance.FeaturesEnv, "K-MTLS-5")
	RegisterFailHandler(Fail)
	RunSpecs(t, "conformance admission")
}

var _ = BeforeSuite(func() {
	suite.SetTarget(fakeTarget{})
	Expect(suite.Idle()).To(BeFalse(), "fake claims Kong behaviours")
	alb := conformance.NewSuite(catalog.ALB)
	alb.SetTarget(fakeTarget{})
	Expect(alb.Idle()).To(BeTrue(), "fake claims no ALB behaviour")
})
var _ = suite.Admit()

var ran = map[string]bool{}

var _ = Describe("admission", func() {
	suite.It("K-MTLS-1", "unclaimed", func() { ran["K-MTLS-1"] = true })
	suite.It("K-MTLS-2", "claimed but needs revocation", conformance.Requires(catalog.Revocation), func() { ran["K-MTLS-2"] = true })
	suite.It("K-MTLS-3", "claimed and black-box", Label(conformance.BlackBox), func() { ran["K-MTLS-3"] = true })
	suite.It("K-MTLS-4", "claimed but configured through the Admin API", func() { ran["K-MTLS-4"] = true })
	suite.It("K-MTLS-6", "claimed and black-box, but needs an unclaimed behaviour", Label(conformance.BlackBox),
		conformance.RequiresBehaviour("A-MODE-3"), func() { ran["K-MTLS-6"] = true })
	suite.It("K-MTLS-5", "unclaimed but forced on", func() { ran["K-MTLS-5"] = true })
	suite.It("K-MTLS-7", "claimed and configured through a feature the target supports", conformance.ConfiguresWith(catalog.Declarative),
		func() { ran["K-MTLS-7"] = true })
	suite.It("K-MTLS-9", "pending, never judged", Pending, func() { ran["K-MTLS-9"] = true })
	Describe("a black-box container", Label(conformance.BlackBox), func() {
		DescribeTable("its table", func(id string) { ran[id] = true },
			suite.Entry("K-MTLS-3", "an entry of a black-box container", "K-MTLS-3 entry"))
	})
})

var _ = ReportAfterSuite("outcomes", func(r types.Report) {
	got := map[string]string{}
	recs := map[catalog.ID]record.Spec{}
	var entry record.Spec
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		rec, ok, err := record.FromEntries(s.ReportEntries)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue(), "spec %q carries no record", s.FullText())
		Expect(rec.Name).To(Equal(s.LeafNodeText), "the value is the spec's own")
		if rec.Name == "K-MTLS-3: an entry of a black-box container" {
			entry = rec
			continue
		}
		got[string(rec.ID)] = s.State.String()
		recs[rec.ID] = rec
		if rec.NotSupported {
			Expect(s.FailureMessage()).To(Equal(record.NotSupportedPrefix+rec.Reason), "the console says what the record says")
			got[string(rec.ID)] += " (not supported)"
		}
	}
	Expect(got).To(Equal(map[string]string{
		"K-MTLS-1": "skipped (not supported)",
		"K-MTLS-2": "skipped (not supported)",
		"K-MTLS-3": "passed",
		"K-MTLS-4": "skipped (not supported)",
		"K-MTLS-5": "passed",
		"K-MTLS-6": "skipped (not supported)",
		"K-MTLS-7": "passed",
		"K-MTLS-9": "pending",
	}))
	Expect(recs["K-MTLS-9"]).To(Equal(record.Spec{Name: "K-MTLS-9: pending, never judged", ID: "K-MTLS-9", Feature: catalog.MTLSAuth,
		Profile: catalog.Kong, SetsUpThrough: catalog.AdminAPI}), "a spec that never runs still carries its value, unjudged")
	Expect(recs["K-MTLS-2"]).To(Equal(record.Spec{Name: "K-MTLS-2: claimed but needs revocation", ID: "K-MTLS-2", Feature: catalog.MTLSAuth, Profile: catalog.Kong,
		Requires: []string{string(catalog.Revocation)}, SetsUpThrough: catalog.AdminAPI,
		NotSupported: true, Reason: "target fake does not support admin-api, through which this K-MTLS-2 spec sets up its scenario: fake has no extras"}))
	Expect(recs["K-MTLS-6"].Requires).To(Equal([]string{"A-MODE-3"}))
	Expect(recs["K-MTLS-6"].SetsUpThrough).To(BeEmpty(), "a black-box spec sets nothing up")
	Expect(recs["K-MTLS-7"].SetsUpThrough).To(Equal(catalog.Declarative))
	Expect(recs["K-MTLS-5"].NotSupported).To(BeFalse(), "forced on")
	Expect(entry.BlackBox).To(BeTrue(), "Label(BlackBox) on the container the entry is declared in")
	Expect(entry.NotSupported).To(BeFalse(), "a black-box spec needs no Admin API")
	Expect(ran).To(Equal(map[string]bool{"K-MTLS-3": true, "K-MTLS-3 entry": true, "K-MTLS-5": true, "K-MTLS-7": true}))
})

func TestCheckLabelsRefusesAMistypedLabel(t *testing.T) {
	good := []string{"K-MTLS-1", "feature:mtls-auth", "gateway:kong", "requires:http2", "requires:A-MODE-3", "configures:elbv2-api", conformance.BlackBox, conformance.LoadLabel}
	if err := conformance.CheckLabels(good); err != nil {
		t.Errorf("CheckLabels(%v) = %v, want nil", good, err)
	}
	for _, bad := range []string{"blackbx", "K-MTLS-99", "feature:mtls-aut", "gateway:nginx", "requires:htp2", "configures:K-MTLS-1", "Load"} {
		err := conformance.CheckLabels([]string{"K-MTLS-1", bad})
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("CheckLabels(%q) = %v, want an error naming it", bad, err)
		}
	}
}
