// Package record holds what a conformance run writes into its Ginkgo report for reports to read:
// the names of the run-level report entries and, per spec, its Spec value (its SPEC ID, feature,
// profile and requirements, and whether the target did not support it and why). It imports only the
// catalogue and Ginkgo's report types, so conformance (which writes it) and reports (which reads
// it) both depend on it and never on each other the wrong way round.
package record

import (
	"encoding/json"
	"fmt"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// The names of the report entries a suite adds once (in its BeforeSuite) to say what it ran
// against; reports lists each distinct value.
const (
	// TargetEntry names the target the suite ran against.
	TargetEntry = "mtlsgate.target"
	// TargetVersionEntry says which version of the target.
	TargetVersionEntry = "mtlsgate.target.version"
	// TargetProvenanceEntry says which of the target's claims have been proven against the real
	// system (a real Kong image) and which rest on its docs and tests alone.
	TargetProvenanceEntry = "mtlsgate.target.provenance"
	// TargetResourcesEntry names the cloud resources a run certified, as "what: id" (the region
	// and the listener and trust store ARNs of an ALB configured through the ELBv2 API).
	TargetResourcesEntry = "mtlsgate.target.resources"
)

// SpecEntry names the report entry that carries a spec's Spec record.
const SpecEntry = "mtlsgate.spec"

// NotSupportedPrefix starts the Skip message of a spec the target does not support, so the
// console says so too; reports read the Spec record, not this text.
const NotSupportedPrefix = "not supported: "

// Spec is one spec as a value, from its declaration to the report: which behaviour it checks (its
// SPEC ID, feature and profile), what else it needs, how it sets up its scenario, and, once the
// target has been asked, whether it is not supported and why. conformance builds it when the spec
// is declared and attaches it to the spec's report; a report tells "not supported" from any other
// skip, and a spec from its ID, by this value alone.
type Spec struct {
	// Name is the spec's text as Ginkgo reports it (its leaf text, "<ID>: …"): the key its
	// declaration is found by.
	Name    string          `json:"name,omitempty"`
	ID      catalog.ID      `json:"id"`
	Feature catalog.Feature `json:"feature"`
	Profile catalog.Profile `json:"profile"`
	// Requires are the features and behaviours (IDs) the spec needs beyond its ID's own.
	Requires []string `json:"requires,omitempty"`
	// BlackBox is set for a spec that drives the gateway as it is, changing none of its
	// configuration.
	BlackBox bool `json:"black_box,omitempty"`
	// SetsUpThrough is the feature the spec configures its scenario through ("" for a black-box
	// spec, which changes no configuration).
	SetsUpThrough catalog.Feature `json:"sets_up_through,omitempty"`
	// NotSupported is set when the spec was skipped because the target does not claim its ID, or
	// a feature or behaviour it needs, and nobody forced it on; Reason then says why.
	NotSupported bool   `json:"not_supported,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// String is how the record reads in Ginkgo's verbose console.
func (s Spec) String() string {
	if s.NotSupported {
		return fmt.Sprintf("%s (%s, %s): %s%s", s.ID, s.Feature, s.Profile, NotSupportedPrefix, s.Reason)
	}
	return fmt.Sprintf("%s (%s, %s)", s.ID, s.Feature, s.Profile)
}

// For returns the record of a spec of behaviour id (not yet judged unsupported).
func For(id catalog.ID) Spec {
	b := catalog.MustLookup(id)
	return Spec{ID: b.ID, Feature: b.Feature, Profile: b.Profile}
}

// FromEntries finds a spec's record among its report entries: in memory (a ReportAfterSuite) the
// value is the Spec itself, read back from a JSON report it is the Spec as JSON.
func FromEntries(es types.ReportEntries) (Spec, bool, error) {
	for _, e := range es {
		if e.Name != SpecEntry {
			continue
		}
		switch v := e.Value.GetRawValue().(type) {
		case Spec:
			return v, true, nil
		case *Spec:
			return *v, true, nil
		}
		var s Spec
		if err := json.Unmarshal([]byte(e.Value.AsJSON), &s); err != nil {
			return Spec{}, false, fmt.Errorf("decode report entry %s %q: %w", SpecEntry, e.Value.AsJSON, err)
		}
		return s, true, nil
	}
	return Spec{}, false, nil
}
