// Package reports turns a Ginkgo run into what CI gates and people read: per SPEC ID, whether the
// behaviour passed, failed, was skipped (and why), was not supported by the target, or was not
// covered by any spec at all. A skipped spec is never counted as passed.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// Outcome is the verdict on one SPEC ID (or one spec) in a run.
type Outcome string

// The outcomes, from best to worst news.
const (
	Passed       Outcome = "passed"
	Failed       Outcome = "failed"
	Skipped      Outcome = "skipped"
	NotSupported Outcome = "not supported"
	NotCovered   Outcome = "not covered"
)

// NotSupportedPrefix starts the Skip message of a spec whose behaviour the target does not claim;
// it is how a report tells "not supported" from any other skip.
const NotSupportedPrefix = "not supported: "

// TargetEntry is the name of the report entry a suite adds in its BeforeSuite to say which target
// it ran against; TargetVersionEntry says which version of it.
const (
	TargetEntry        = "mtlsgate.target"
	TargetVersionEntry = "mtlsgate.target.version"
	// TargetProvenanceEntry says which of the target's claims have been proven against the real
	// system (a real Kong image) and which rest on its docs and tests alone.
	TargetProvenanceEntry = "mtlsgate.target.provenance"
)

// Spec is one Ginkgo spec's result.
type Spec struct {
	Name     string        `json:"name"`
	Outcome  Outcome       `json:"outcome"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// IDResult is the verdict on one SPEC ID with the specs behind it.
type IDResult struct {
	ID      catalog.ID      `json:"id"`
	Profile catalog.Profile `json:"profile"`
	Feature catalog.Feature `json:"feature"`
	Title   string          `json:"title"`
	Outcome Outcome         `json:"outcome"`
	Reason  string          `json:"reason,omitempty"`
	Specs   []Spec          `json:"specs,omitempty"`
}

// Run is one conformance run: where it ran, each SPEC ID's result, and suite-level failures
// (a BeforeSuite that failed, say) that no SPEC ID owns.
type Run struct {
	Targets        []string `json:"targets"`
	TargetVersions []string `json:"target_versions,omitempty"`
	// Provenance holds the targets' statements of what was proven against the real system.
	Provenance    []string      `json:"provenance,omitempty"`
	Start         time.Time     `json:"start"`
	Duration      time.Duration `json:"duration_ns"`
	Results       []IDResult    `json:"results"`
	SuiteFailures []string      `json:"suite_failures,omitempty"`
	// Unattributed lists specs whose names carry no SPEC ID.
	Unattributed []Spec `json:"unattributed,omitempty"`
}

// ReadGinkgoJSON reads the file `ginkgo --json-report` writes.
func ReadGinkgoJSON(path string) ([]types.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Ginkgo report %q: %w", path, err)
	}
	var rs []types.Report
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("parse Ginkgo report %q: %w", path, err)
	}
	return rs, nil
}

// SpecID returns the SPEC ID a spec name starts with ("K-MTLS-1: …"), if any.
func SpecID(name string) (catalog.ID, bool) {
	head, _, ok := strings.Cut(name, ":")
	if !ok || !catalog.Valid(head) {
		return "", false
	}
	if _, known := catalog.Lookup(catalog.ID(head)); !known {
		return "", false
	}
	return catalog.ID(head), true
}

// FromGinkgo aggregates Ginkgo reports. profiles limits the catalogue rows listed (every profile
// a suite ran, normally); IDs of other profiles appear only if some spec named them.
func FromGinkgo(rs []types.Report, profiles ...catalog.Profile) Run {
	run := Run{}
	byID := map[catalog.ID][]Spec{}
	for _, r := range rs {
		if run.Start.IsZero() || r.StartTime.Before(run.Start) {
			run.Start = r.StartTime
		}
		run.Duration += r.RunTime
		for _, s := range r.SpecReports {
			for _, e := range s.ReportEntries {
				v := strings.Trim(e.StringRepresentation(), `"`)
				switch {
				case e.Name == TargetEntry && !slices.Contains(run.Targets, v):
					run.Targets = append(run.Targets, v)
				case e.Name == TargetVersionEntry && !slices.Contains(run.TargetVersions, v):
					run.TargetVersions = append(run.TargetVersions, v)
				case e.Name == TargetProvenanceEntry && !slices.Contains(run.Provenance, v):
					run.Provenance = append(run.Provenance, v)
				}
			}
			if s.LeafNodeType != types.NodeTypeIt {
				if s.State.Is(types.SpecStateFailureStates) {
					run.SuiteFailures = append(run.SuiteFailures, fmt.Sprintf("%s in %s: %s", s.LeafNodeType, r.SuiteDescription, firstLine(s.FailureMessage())))
				}
				continue
			}
			spec := Spec{Name: s.FullText(), Outcome: specOutcome(s), Duration: s.RunTime}
			if spec.Outcome != Passed {
				spec.Reason = firstLine(s.FailureMessage())
				if spec.Outcome == NotSupported {
					spec.Reason = strings.TrimPrefix(spec.Reason, NotSupportedPrefix)
				}
				if s.State == types.SpecStatePending {
					spec.Reason = "pending"
				}
			}
			id, ok := SpecID(s.LeafNodeText)
			if !ok {
				run.Unattributed = append(run.Unattributed, spec)
				continue
			}
			byID[id] = append(byID[id], spec)
		}
	}
	for _, b := range catalog.All() {
		specs := byID[b.ID]
		if len(specs) == 0 && !slices.Contains(profiles, b.Profile) {
			continue
		}
		res := IDResult{ID: b.ID, Profile: b.Profile, Feature: b.Feature, Title: b.Title, Specs: specs}
		res.Outcome, res.Reason = aggregate(specs)
		run.Results = append(run.Results, res)
	}
	return run
}

func specOutcome(s types.SpecReport) Outcome {
	switch {
	case s.State == types.SpecStatePassed:
		return Passed
	case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
		if strings.HasPrefix(s.FailureMessage(), NotSupportedPrefix) {
			return NotSupported
		}
		return Skipped
	}
	return Failed
}

// aggregate gives an ID's verdict: failed if any spec failed; passed only if every spec passed;
// not supported if every spec was; skipped otherwise, with the reasons.
func aggregate(specs []Spec) (Outcome, string) {
	if len(specs) == 0 {
		return NotCovered, "no spec ran for this ID"
	}
	count := map[Outcome]int{}
	var reasons []string
	for _, s := range specs {
		count[s.Outcome]++
		if s.Outcome != Passed && s.Reason != "" && !slices.Contains(reasons, s.Reason) {
			reasons = append(reasons, s.Reason)
		}
	}
	reason := strings.Join(reasons, "; ")
	switch {
	case count[Failed] > 0:
		return Failed, fmt.Sprintf("%d of %d specs failed: %s", count[Failed], len(specs), reason)
	case count[Passed] == len(specs):
		return Passed, ""
	case count[NotSupported] == len(specs):
		return NotSupported, reason
	}
	return Skipped, fmt.Sprintf("%d of %d specs did not run: %s", len(specs)-count[Passed], len(specs), reason)
}

// Count returns how many IDs have each outcome.
func (r Run) Count() map[Outcome]int {
	out := map[Outcome]int{}
	for _, res := range r.Results {
		out[res.Outcome]++
	}
	return out
}

// OK reports whether the run may pass a CI gate: nothing failed, no suite-level failure.
func (r Run) OK() bool {
	return r.Count()[Failed] == 0 && len(r.SuiteFailures) == 0
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
