// Package conformance declares Ginkgo specs keyed by SPEC IDs, each as one value (Spec): its
// name "<ID>: …", ID, feature, profile, requirements and setup, built when the spec is declared and
// attached to its report. A spec is labelled from that value, and skipped as "not supported" when
// the target under test does not claim its ID (or a feature the spec requires), so a report can
// never count an unclaimed behaviour as passed. A user may force IDs or features on with
// MTLSGATE_FEATURES: those specs then run, and fail where the target cannot do them.
package conformance

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified.
	"github.com/onsi/ginkgo/v2/types"

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

// Spec is a spec as one value: its name, SPEC ID, feature, profile, the features and behaviours it
// requires, how it sets up its scenario and, once admitted, whether the target does not support
// it and why. Suite.It, Suite.Entry and Suite.EntriesOver build it when the spec is declared;
// record declares the type so reports reads the very value conformance attaches.
type Spec = record.Spec

// Option declares something about a spec beyond its ID and text: pass it to Suite.It or
// Suite.Entry among Ginkgo's decorators. It becomes part of the spec's value, and the spec's
// labels are derived from that value.
type Option interface{ declare(*Spec) }

// requirement is an Option naming features or behaviours a spec needs beyond its ID's own.
type requirement []string

func (r requirement) declare(s *Spec) { s.Requires = append(s.Requires, r...) }

// setup is an Option naming the feature a spec sets up its scenario through.
type setup catalog.Feature

func (f setup) declare(s *Spec) { s.SetsUpThrough = catalog.Feature(f) }

// Requires declares features a spec needs beyond its ID's own.
func Requires(fs ...catalog.Feature) Option {
	out := make(requirement, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// RequiresBehaviour declares behaviours of another profile a spec needs the target to claim (a
// load spec attacking an ALB in verify mode needs A-MODE-3).
func RequiresBehaviour(ids ...catalog.ID) Option {
	out := make(requirement, len(ids))
	for i, id := range ids {
		catalog.MustLookup(id)
		out[i] = string(id)
	}
	return out
}

// ConfiguresWith declares that a spec sets up its scenario through f instead of the suite's
// ConfiguresThrough feature (the ALB suite's ELBv2 API specs).
func ConfiguresWith(f catalog.Feature) Option { return setup(f) }

// BlackBox labels specs that drive the gateway as it is, changing none of its configuration: put
// Label(BlackBox) on an It or Entry, or on the Describe that declares them. Only black-box specs
// run against a target that cannot be configured.
const BlackBox = "blackbox"

// The prefixes of the labels derived from a spec's value.
const (
	featurePrefix    = "feature:"
	gatewayPrefix    = "gateway:"
	requiresPrefix   = "requires:"
	configuresPrefix = "configures:"
)

// Suite is the set of specs of one profile, bound to the target the run chose.
type Suite struct {
	profile catalog.Profile
	target  Claimer
	forced  []string
	// setup is the feature every spec but a black-box one configures its scenario through.
	setup catalog.Feature
	// specs are the declared specs' values by name (their leaf text, which Ginkgo reports).
	specs map[string]Spec
}

// NewSuite starts a suite for one profile; call SetTarget in BeforeSuite.
func NewSuite(p catalog.Profile) *Suite { return &Suite{profile: p, specs: map[string]Spec{}} }

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
// reports the rest as not supported. It is part of every spec's value, so it comes before any
// spec is declared: `conformance.NewSuite(catalog.Kong).ConfiguresThrough(catalog.AdminAPI)`.
func (s *Suite) ConfiguresThrough(f catalog.Feature) *Suite {
	if len(s.specs) > 0 {
		panic(fmt.Sprintf("conformance: ConfiguresThrough(%s) after %d specs were declared; call it where the suite is made", f, len(s.specs)))
	}
	s.setup = f
	return s
}

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
// Further arguments are Options, Ginkgo decorators and the body, as for Ginkgo's It.
func (s *Suite) It(id catalog.ID, text string, args ...any) bool {
	// A helper frame: Ginkgo places the spec (and its failures) at the suite file's call, not here.
	GinkgoHelper()
	name, decorated := s.declare(id, text, args)
	return It(name, decorated...)
}

// Entry declares a DescribeTable entry for a SPEC ID, declared, named and labelled as It does a
// spec: `s.Entry("K-MTLS-8", "revoked, STRICT → 401", params…)`.
func (s *Suite) Entry(id catalog.ID, text string, args ...any) TableEntry {
	// A helper frame, as in It: the entry is placed at the suite file's call.
	GinkgoHelper()
	name, decorated := s.declare(id, text, args)
	return Entry(name, decorated...)
}

// declare builds the value of the spec named "<id>: <text>" from its ID's catalogue row, the
// suite's setup, its Options and the BlackBox label on it or its containers, and keeps it under
// its name. It returns the name and the arguments for Ginkgo: the Options replaced by the labels
// the value derives. An ID of another profile, or one name declared twice with different values,
// is a programming error.
func (s *Suite) declare(id catalog.ID, text string, args []any) (string, []any) {
	b := catalog.MustLookup(id)
	if b.Profile != s.profile {
		panic(fmt.Sprintf("conformance: %s belongs to profile %s, not %s", id, b.Profile, s.profile))
	}
	spec := Spec{Name: string(id) + ": " + text, ID: id, Feature: b.Feature, Profile: b.Profile, SetsUpThrough: s.setup}
	rest := make([]any, 0, len(args)+1)
	labels := containerLabels()
	for _, a := range args {
		switch a := a.(type) {
		case Option:
			a.declare(&spec)
			continue
		case Labels:
			labels = append(labels, a...)
		}
		rest = append(rest, a)
	}
	if slices.Contains(labels, BlackBox) {
		spec.BlackBox, spec.SetsUpThrough = true, ""
	}
	if prev, ok := s.specs[spec.Name]; ok && !reflect.DeepEqual(prev, spec) {
		panic(fmt.Sprintf("conformance: spec %q is declared twice with different values (%+v, then %+v); give each its own text", spec.Name, prev, spec))
	}
	s.specs[spec.Name] = spec
	return spec.Name, append([]any{Label(s.labels(spec)...)}, rest...)
}

// containerLabels are the labels of the containers a spec is being declared in; none outside any.
func containerLabels() (out []string) {
	defer func() {
		if recover() != nil {
			out = nil // not inside a container's body: Ginkgo has no construction report
		}
	}()
	for _, ls := range CurrentTreeConstructionNodeReport().ContainerHierarchyLabels {
		out = append(out, ls...)
	}
	return out
}

// labels are the Ginkgo labels a spec's value derives: its ID, feature and profile, what it
// requires, and the feature it sets up through when that is not the suite's (Label(BlackBox)
// stays where it was written).
func (s *Suite) labels(spec Spec) []string {
	out := []string{string(spec.ID), featurePrefix + string(spec.Feature), gatewayPrefix + string(spec.Profile)}
	for _, r := range spec.Requires {
		out = append(out, requiresPrefix+r)
	}
	if !spec.BlackBox && spec.SetsUpThrough != s.setup {
		out = append(out, configuresPrefix+string(spec.SetsUpThrough))
	}
	return out
}

// Admit registers, at the top of a suite (`var _ = suite.Admit()`, before any other BeforeEach so
// it runs before any setup), the two steps of admission:
//   - before every spec, even one the run filters out, its declared value goes into its report
//     (record.SpecEntry), judged against the target unless Ginkgo skips the spec anyway: it is not
//     supported unless the target claims its SPEC ID and every feature it requires, or the user
//     forced one of them on. A spec with a label off the allow-list (CheckLabels), or a label a
//     container carries that its value does not (a requirement must be declared on the spec), fails.
//   - a BeforeEach then skips a not-supported spec, saying why on the console too (and fails every
//     spec if no target was bound).
func (s *Suite) Admit() bool {
	ReportBeforeEach(s.attach)
	return BeforeEach(func() {
		if s.target == nil {
			Fail("conformance: no target bound; call SetTarget in BeforeSuite")
			return
		}
		if rec, ok, _ := record.FromEntries(CurrentSpecReport().ReportEntries); ok && rec.NotSupported {
			Skip(record.NotSupportedPrefix + rec.Reason)
		}
	})
}

// attach puts a spec's value, judged, into its report; a spec not declared through this suite has
// none, and a report lists it as unattributed.
func (s *Suite) attach(r types.SpecReport) {
	if r.LeafNodeType != types.NodeTypeIt {
		return
	}
	spec, declared := s.specs[r.LeafNodeText]
	if !declared {
		return
	}
	err := CheckLabels(r.Labels())
	if err == nil {
		err = s.undeclared(spec, r.Labels())
	}
	// A spec Ginkgo skips anyway (filtered out, pending, a dry run) is not judged.
	if err == nil && s.target != nil && !r.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
		spec.Reason, spec.NotSupported = s.unsupported(spec)
	}
	AddReportEntry(record.SpecEntry, spec, ReportEntryVisibilityNever)
	if err != nil {
		Fail(fmt.Sprintf("conformance: spec %q: %v", r.FullText(), err))
	}
}

// undeclared refuses a label that says something about a spec (an ID, feature, profile,
// requirement, setup or black box) which the spec's value does not: one written on a container
// instead of declared with the spec.
func (s *Suite) undeclared(spec Spec, labels []string) error {
	want := s.labels(spec)
	if spec.BlackBox {
		want = append(want, BlackBox)
	}
	for _, l := range labels {
		if describesSpec(l) && !slices.Contains(want, l) {
			return fmt.Errorf("label %q is not part of the spec's declaration: declare it with the spec (conformance.Requires, RequiresBehaviour, ConfiguresWith, or Label(BlackBox) on the spec or the container it is declared in)", l)
		}
	}
	return nil
}

// describesSpec reports whether a label says something a spec's value holds.
func describesSpec(l string) bool {
	if _, isID := catalog.Lookup(catalog.ID(l)); isID || l == BlackBox {
		return true
	}
	for _, p := range []string{featurePrefix, gatewayPrefix, requiresPrefix, configuresPrefix} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// unsupported says why the bound target cannot run the spec, if it cannot: it does not claim the
// ID, or the feature the spec sets up its scenario through, or a feature or behaviour the spec
// requires, and the user forced none of them on.
func (s *Suite) unsupported(spec Spec) (string, bool) {
	id := spec.ID
	forced := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(s.forced, n) })
	}
	if claimed, why := s.target.Claims(id); !claimed && !forced(string(id), string(spec.Feature)) {
		return fmt.Sprintf("target %s does not claim %s: %s", s.target.Name(), id, why), true
	}
	if setup := spec.SetsUpThrough; setup != "" {
		if supported, why := s.target.Supports(setup); !supported && !forced(string(id), string(setup)) {
			return fmt.Sprintf("target %s does not support %s, through which this %s spec sets up its scenario: %s", s.target.Name(), setup, id, why), true
		}
	}
	for _, f := range spec.Requires {
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
	GinkgoHelper() // the entries are placed at the suite file's call
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
