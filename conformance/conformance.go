// Package conformance declares Ginkgo specs keyed by SPEC IDs. Every spec is named "<ID>: …",
// labelled with its ID, feature and profile, and skipped as "not supported" when the target under
// test does not claim its ID (or a feature the spec requires), so a report can never count an
// unclaimed behaviour as passed. A user may force IDs or features on with MTLSGATE_FEATURES: those
// specs then run, and fail where the target cannot do them.
package conformance

import (
	"fmt"
	"os"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified.

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance/record"
)

// Claimer is the part of a target a suite needs to decide whether a spec runs.
type Claimer interface {
	Name() string
	// Claims reports whether the target implements the behaviour; when it does not, the reason
	// says why (it lands in the report).
	Claims(id catalog.ID) (bool, string)
	// Supports reports whether the target can do a feature some specs need beyond their ID's own
	// (revocation by CRL distribution point for one K-MTLS-2 spec, say), and if not, why.
	Supports(f catalog.Feature) (bool, string)
}

// The names of the run-level report entries a suite adds (record declares them; reports reads
// them), here so a suite need not import reports.
const (
	// TargetVersionEntry says which version of the target a suite ran against.
	TargetVersionEntry = record.TargetVersionEntry
	// TargetResourcesEntry names the cloud resources a run certified.
	TargetResourcesEntry = record.TargetResourcesEntry
)

// Provenancer is a target that can say which of its claims have been proven against the real
// system (the kong target: against a real Kong image) and which have not; the report prints it.
type Provenancer interface {
	Provenance() string
}

// FeaturesEnv names IDs and features (comma-separated) the user forces on: their specs run even
// where the target does not claim them, so a claim can be put to the test.
const FeaturesEnv = "MTLSGATE_FEATURES"

// requiresPrefix marks the labels that name a spec's extra required features or behaviours.
const requiresPrefix = "requires:"

// Requires declares features a spec needs beyond its ID's own; pass it to Suite.It.
func Requires(fs ...catalog.Feature) Labels {
	out := make(Labels, len(fs))
	for i, f := range fs {
		out[i] = requiresPrefix + string(f)
	}
	return out
}

// RequiresBehaviour declares behaviours of another profile a spec needs the target to claim (a
// load spec attacking an ALB in verify mode needs A-MODE-3); pass it to Suite.It.
func RequiresBehaviour(ids ...catalog.ID) Labels {
	out := make(Labels, len(ids))
	for i, id := range ids {
		catalog.MustLookup(id)
		out[i] = requiresPrefix + string(id)
	}
	return out
}

// configuresPrefix marks the label of a spec that sets up its scenario through another feature
// than the suite's.
const configuresPrefix = "configures:"

// ConfiguresWith declares that a spec sets up its scenario through f instead of the suite's
// ConfiguresThrough feature (the ALB suite's ELBv2 API specs); pass it to Suite.It.
func ConfiguresWith(f catalog.Feature) Labels { return Labels{configuresPrefix + string(f)} }

// BlackBox labels specs that drive the gateway as it is, changing none of its configuration; put
// it on a Describe or an It. Only black-box specs run against a target that cannot be configured.
const BlackBox = "blackbox"

// Suite is the set of specs of one profile, bound to the target the run chose.
type Suite struct {
	profile catalog.Profile
	target  Claimer
	forced  []string
	// setup is the feature every spec but a black-box one configures its scenario through.
	setup catalog.Feature
}

// NewSuite starts a suite for one profile; call SetTarget in BeforeSuite.
func NewSuite(p catalog.Profile) *Suite { return &Suite{profile: p} }

// SetTarget binds the target; specs declared earlier consult it when they run. It also reads
// MTLSGATE_FEATURES.
func (s *Suite) SetTarget(t Claimer) {
	s.target = t
	s.forced = nil
	for _, f := range strings.Split(os.Getenv(FeaturesEnv), ",") {
		if f = strings.TrimSpace(f); f != "" {
			s.forced = append(s.forced, f)
		}
	}
	AddReportEntry(record.TargetEntry, t.Name(), ReportEntryVisibilityNever)
	if p, ok := t.(Provenancer); ok {
		AddReportEntry(record.TargetProvenanceEntry, p.Provenance(), ReportEntryVisibilityNever)
	}
}

// ConfiguresThrough declares that every spec not labelled BlackBox sets up its scenario through f
// (the Kong suite through the Admin API), so a target without f runs only the black-box specs and
// reports the rest as not supported.
func (s *Suite) ConfiguresThrough(f catalog.Feature) { s.setup = f }

// Idle reports whether no spec of this suite can run against the bound target: it claims no
// behaviour of the profile and the user forced none on. An idle suite starts nothing (the target
// need not even implement the profile) and Admit reports every spec as not supported.
func (s *Suite) Idle() bool {
	for _, b := range catalog.ByProfile(s.profile) {
		if claimed, _ := s.target.Claims(b.ID); claimed || slices.Contains(s.forced, string(b.ID)) || slices.Contains(s.forced, string(b.Feature)) {
			return false
		}
	}
	return true
}

// Profile is the profile this suite checks.
func (s *Suite) Profile() catalog.Profile { return s.profile }

// It declares a spec for a SPEC ID: `s.It("K-MTLS-1", "no certificate → 401", func(ctx SpecContext) {…})`.
// Further arguments are Ginkgo decorators and the body, as for Ginkgo's It.
func (s *Suite) It(id catalog.ID, text string, args ...any) bool {
	decorated := append([]any{s.labels(id)}, args...)
	return It(string(id)+": "+text, decorated...)
}

// labels are the Ginkgo labels of a spec for id; an ID of another profile is a programming error.
func (s *Suite) labels(id catalog.ID) Labels {
	b := catalog.MustLookup(id)
	if b.Profile != s.profile {
		panic(fmt.Sprintf("conformance: %s belongs to profile %s, not %s", id, b.Profile, s.profile))
	}
	return Label(string(id), featurePrefix+string(b.Feature), gatewayPrefix+string(b.Profile))
}

// Entry declares a DescribeTable entry for a SPEC ID, named and labelled as It names and labels
// a spec: `s.Entry("K-MTLS-8", "revoked, STRICT → 401", params…)`.
func (s *Suite) Entry(id catalog.ID, text string, args ...any) TableEntry {
	decorated := append([]any{s.labels(id)}, args...)
	return Entry(string(id)+": "+text, decorated...)
}

// Admit fails a spec with a label off the allow-list (CheckLabels), and skips the current spec as
// not supported unless the target claims its SPEC ID and every feature it requires, or the user
// forced one of them on. Either way it attaches the spec's record.Spec (ID, feature, profile, and
// whether and why it is not supported) for reports to read. Register it once at the top of a
// suite, `var _ = BeforeEach(suite.Admit)`, so it runs before any setup.
func (s *Suite) Admit() {
	if s.target == nil {
		Fail("conformance: no target bound; call SetTarget in BeforeSuite")
		return
	}
	spec := CurrentSpecReport()
	if err := CheckLabels(spec.Labels()); err != nil {
		Fail(fmt.Sprintf("conformance: spec %q: %v", spec.FullText(), err))
		return
	}
	id, ok := record.SpecID(spec.LeafNodeText)
	if !ok {
		return
	}
	rec := s.record(id, spec.Labels())
	if why, unsupported := s.unsupported(rec); unsupported {
		rec.NotSupported, rec.Reason = true, why
		AddReportEntry(record.SpecEntry, rec, ReportEntryVisibilityNever)
		Skip(record.NotSupportedPrefix + why)
	}
	AddReportEntry(record.SpecEntry, rec, ReportEntryVisibilityNever)
}

// record is what a spec of id with these labels declares: its behaviour, the features and
// behaviours it requires beyond its ID's, and the feature it sets up its scenario through.
func (s *Suite) record(id catalog.ID, labels []string) record.Spec {
	rec := record.For(id)
	if !slices.Contains(labels, BlackBox) {
		rec.SetsUpThrough = s.setup
		for _, l := range labels {
			if f, ok := strings.CutPrefix(l, configuresPrefix); ok {
				rec.SetsUpThrough = catalog.Feature(f)
			}
		}
	}
	for _, l := range labels {
		if f, ok := strings.CutPrefix(l, requiresPrefix); ok {
			rec.Requires = append(rec.Requires, f)
		}
	}
	return rec
}

// unsupported says why the bound target cannot run the spec rec declares, if it cannot: it does
// not claim the ID, or the feature the spec sets up its scenario through, or a feature or
// behaviour the spec requires, and the user forced none of them on.
func (s *Suite) unsupported(rec record.Spec) (string, bool) {
	id := rec.ID
	forced := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(s.forced, n) })
	}
	if claimed, why := s.target.Claims(id); !claimed && !forced(string(id), string(rec.Feature)) {
		return fmt.Sprintf("target %s does not claim %s: %s", s.target.Name(), id, why), true
	}
	if setup := rec.SetsUpThrough; setup != "" {
		if supported, why := s.target.Supports(setup); !supported && !forced(string(id), string(setup)) {
			return fmt.Sprintf("target %s does not support %s, through which this %s spec sets up its scenario: %s", s.target.Name(), setup, id, why), true
		}
	}
	for _, f := range rec.Requires {
		if _, isID := catalog.Lookup(catalog.ID(f)); isID {
			if claimed, why := s.target.Claims(catalog.ID(f)); !claimed && !forced(string(id), f) {
				return fmt.Sprintf("target %s does not claim %s, which this %s spec needs: %s", s.target.Name(), f, id, why), true
			}
			continue
		}
		if supported, why := s.target.Supports(catalog.Feature(f)); !supported && !forced(string(id), f) {
			return fmt.Sprintf("target %s does not support %s, which this %s spec needs: %s", s.target.Name(), f, id, why), true
		}
	}
	return "", false
}

// Check is one behaviour a table runs once per protocol: its ID, a text, and a body given the
// protocol to speak.
type Check struct {
	ID   catalog.ID
	Text string
	Body func(ctx SpecContext, proto string)
}

// EntriesOver returns an entry per check and protocol, named "<text> over <proto>", for a
// DescribeTable whose body is func(ctx SpecContext, proto string, body func(SpecContext, string)).
// Every protocol but the first requires catalog.HTTP2, so a target without HTTP/2 skips those
// entries as not supported.
func (s *Suite) EntriesOver(protocols []string, checks ...Check) []TableEntry {
	var out []TableEntry
	for _, c := range checks {
		for i, proto := range protocols {
			args := []any{proto, c.Body}
			if i > 0 {
				args = append(args, Requires(catalog.HTTP2))
			}
			out = append(out, s.Entry(c.ID, c.Text+" over "+proto, args...))
		}
	}
	return out
}
