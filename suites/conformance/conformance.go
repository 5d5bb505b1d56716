// Package conformance declares Ginkgo specs keyed by SPEC IDs. Every spec is named "<ID>: …",
// labelled with its ID, feature and profile, and skipped as "not supported" when the target under
// test does not claim its ID, so a report can never count an unclaimed behaviour as passed.
package conformance

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified.

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/reports"
)

// Claimer is the part of a target a suite needs to decide whether a spec runs.
type Claimer interface {
	Name() string
	// Claims reports whether the target implements the behaviour; when it does not, the reason
	// says why (it lands in the report).
	Claims(id catalog.ID) (bool, string)
}

// Suite is the set of specs of one profile, bound to the target the run chose.
type Suite struct {
	profile catalog.Profile
	target  Claimer
}

// NewSuite starts a suite for one profile; call SetTarget in BeforeSuite.
func NewSuite(p catalog.Profile) *Suite { return &Suite{profile: p} }

// SetTarget binds the target; specs declared earlier consult it when they run.
func (s *Suite) SetTarget(t Claimer) {
	s.target = t
	AddReportEntry(reports.TargetEntry, t.Name())
}

// Profile is the profile this suite checks.
func (s *Suite) Profile() catalog.Profile { return s.profile }

// It declares a spec for a SPEC ID: `s.It("K-MTLS-1", "no certificate → 401", func(ctx SpecContext) {…})`.
// Further arguments are Ginkgo decorators and the body, as for Ginkgo's It.
func (s *Suite) It(id catalog.ID, text string, args ...any) bool {
	b := catalog.MustLookup(id)
	if b.Profile != s.profile {
		panic(fmt.Sprintf("conformance: %s belongs to profile %s, not %s", id, b.Profile, s.profile))
	}
	decorated := append([]any{Label(string(id), "feature:"+string(b.Feature), "gateway:"+string(b.Profile))}, args...)
	return It(string(id)+": "+text, decorated...)
}

// Admit skips the current spec as not supported unless the target claims its SPEC ID. Register it
// once at the top of a suite, `var _ = BeforeEach(suite.Admit)`, so it runs before any setup.
func (s *Suite) Admit() {
	if s.target == nil {
		Fail("conformance: no target bound; call SetTarget in BeforeSuite")
		return
	}
	id, ok := reports.SpecID(CurrentSpecReport().LeafNodeText)
	if !ok {
		return
	}
	if claimed, why := s.target.Claims(id); !claimed {
		Skip(fmt.Sprintf("%starget %s does not claim %s: %s", reports.NotSupportedPrefix, s.target.Name(), id, why))
	}
}
