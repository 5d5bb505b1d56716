// Package reports turns a Ginkgo run into what CI gates and people read: per SPEC ID, whether the
// behaviour passed, failed, was skipped (and why), was not supported by the target, or was not
// covered by any spec at all. A skipped spec is never counted as passed.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance/record"
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
	// NotRun is an ID whose suite did not run (it failed to compile, its BeforeSuite failed, or
	// it was never reached); the reason says which.
	NotRun Outcome = "not run"
	// NotSelected is an ID left out of the run on purpose (make conformance IDS=… or PROFILES=…).
	NotSelected Outcome = "not selected"
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
	Provenance []string `json:"provenance,omitempty"`
	// Resources name what was certified beyond the target's name: a region, ARNs.
	Resources     []string      `json:"resources,omitempty"`
	Start         time.Time     `json:"start"`
	Duration      time.Duration `json:"duration_ns"`
	Results       []IDResult    `json:"results"`
	SuiteFailures []string      `json:"suite_failures,omitempty"`
	// Unattributed lists specs that carry no conformance value (declared with Ginkgo's It, not a
	// conformance.Suite's), so belong to no SPEC ID.
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

// Options say what a run covered beyond what its Ginkgo reports hold.
type Options struct {
	// Profiles are the profiles selected to run (all when empty). Every catalogue ID is listed;
	// those of other profiles as not selected.
	Profiles []catalog.Profile
	// IDs, when set, are the only IDs selected; the rest are listed as not selected.
	IDs []catalog.ID
	// Target names the target when no suite got far enough to record it (a failed BeforeSuite).
	Target string
}

// Selected reports whether the options select behaviour b.
func (o Options) Selected(b catalog.Behaviour) bool {
	return (len(o.Profiles) == 0 || slices.Contains(o.Profiles, b.Profile)) && (len(o.IDs) == 0 || slices.Contains(o.IDs, b.ID))
}

// suiteProfile is the profile a Ginkgo suite certifies: its directory is named for it
// (suites/kong, suites/alb, suites/load). "" when the report does not say.
func suiteProfile(r types.Report) catalog.Profile {
	if r.SuitePath == "" {
		return ""
	}
	return catalog.Profile(filepath.Base(r.SuitePath))
}

// FromGinkgo aggregates Ginkgo reports into one verdict per catalogue ID. IDs the options do not
// select are listed as not selected; the IDs of a suite that did not run say why.
func FromGinkgo(rs []types.Report, opts Options) Run {
	run := Run{}
	byID := map[catalog.ID][]Spec{}
	ran := map[catalog.Profile]bool{}    // suites that reported
	down := map[catalog.Profile]string{} // why a suite's specs did not run
	for _, r := range rs {
		profile := suiteProfile(r)
		if profile != "" {
			ran[profile] = true
		}
		if !r.StartTime.IsZero() && (run.Start.IsZero() || r.StartTime.Before(run.Start)) {
			run.Start = r.StartTime
		}
		run.Duration += r.RunTime
		if !r.SuiteSucceeded && len(r.SpecialSuiteFailureReasons) > 0 {
			why := OneLine(strings.Join(r.SpecialSuiteFailureReasons, "; "))
			run.SuiteFailures = append(run.SuiteFailures, fmt.Sprintf("suite %s: %s", suiteName(r), why))
			if len(r.SpecReports) == 0 && profile != "" {
				down[profile] = why
			}
		}
		for _, s := range r.SpecReports {
			for _, e := range s.ReportEntries {
				v := strings.Trim(e.StringRepresentation(), `"`)
				switch {
				case e.Name == record.TargetEntry && !slices.Contains(run.Targets, v):
					run.Targets = append(run.Targets, v)
				case e.Name == record.TargetVersionEntry && !slices.Contains(run.TargetVersions, v):
					run.TargetVersions = append(run.TargetVersions, v)
				case e.Name == record.TargetProvenanceEntry && !slices.Contains(run.Provenance, v):
					run.Provenance = append(run.Provenance, v)
				case e.Name == record.TargetResourcesEntry && !slices.Contains(run.Resources, v):
					run.Resources = append(run.Resources, v)
				}
			}
			if s.LeafNodeType != types.NodeTypeIt {
				if s.State.Is(types.SpecStateFailureStates) {
					why := fmt.Sprintf("%s failed: %s", s.LeafNodeType, OneLine(s.FailureMessage()))
					run.SuiteFailures = append(run.SuiteFailures, fmt.Sprintf("suite %s: %s", suiteName(r), why))
					if s.LeafNodeType.Is(types.NodeTypeBeforeSuite|types.NodeTypeSynchronizedBeforeSuite) && profile != "" {
						down[profile] = why
					}
				}
				continue
			}
			rec, hasRec, err := record.FromEntries(s.ReportEntries)
			if err != nil {
				run.SuiteFailures = append(run.SuiteFailures, fmt.Sprintf("suite %s: spec %q: %v", suiteName(r), s.FullText(), err))
			}
			spec := Spec{Name: s.FullText(), Outcome: specOutcome(s, rec), Duration: s.RunTime}
			switch {
			case spec.Outcome == NotSupported:
				spec.Reason = OneLine(rec.Reason)
			case s.State == types.SpecStatePending:
				spec.Reason = "pending"
			case spec.Outcome != Passed:
				spec.Reason = OneLine(s.FailureMessage())
			}
			// A spec belongs to the ID its value names (conformance attaches it to every spec it
			// declared, run or not), never to an ID read out of its name.
			if !hasRec {
				run.Unattributed = append(run.Unattributed, spec)
				continue
			}
			byID[rec.ID] = append(byID[rec.ID], spec)
		}
	}
	if len(run.Targets) == 0 && opts.Target != "" {
		run.Targets = []string{opts.Target}
	}
	for _, b := range catalog.All() {
		specs := byID[b.ID]
		res := IDResult{ID: b.ID, Profile: b.Profile, Feature: b.Feature, Title: b.Title, Specs: specs}
		res.Outcome, res.Reason = aggregate(specs)
		switch {
		case !opts.Selected(b) && !ranAny(specs):
			res.Outcome, res.Reason = NotSelected, ""
		case down[b.Profile] != "" && !ranAny(specs):
			res.Outcome, res.Reason = NotRun, fmt.Sprintf("suite %s did not run: %s", b.Profile, down[b.Profile])
		case len(specs) == 0 && len(rs) > 0 && !ran[b.Profile] && len(ran) > 0:
			res.Outcome, res.Reason = NotRun, fmt.Sprintf("suite %s did not run: the Ginkgo report has no result from it (see the console output)", b.Profile)
		}
		run.Results = append(run.Results, res)
	}
	return run
}

// ranAny reports whether any of specs actually ran (passed or failed).
func ranAny(specs []Spec) bool {
	return slices.ContainsFunc(specs, func(s Spec) bool { return s.Outcome == Passed || s.Outcome == Failed })
}

// suiteName names a suite in messages: its profile, else its description or path.
func suiteName(r types.Report) string {
	switch {
	case r.SuitePath != "":
		return filepath.Base(r.SuitePath)
	case r.SuiteDescription != "":
		return r.SuiteDescription
	}
	return "(unnamed)"
}

// specOutcome is a spec's outcome: "not supported" only when conformance recorded it so (a typed
// record, never the skip text), skipped or pending otherwise when it did not run.
func specOutcome(s types.SpecReport, rec record.Spec) Outcome {
	switch {
	case s.State == types.SpecStatePassed:
		return Passed
	case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
		if rec.NotSupported {
			return NotSupported
		}
		return Skipped
	}
	return Failed
}

// aggregate gives an ID's verdict: failed if any spec failed; passed if every spec passed, or
// every spec the target supports did (the reason says how many it does not); not supported if
// no spec was; skipped otherwise, with the reasons.
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
	case count[Passed] > 0 && count[Passed]+count[NotSupported] == len(specs):
		return Passed, fmt.Sprintf("%d of %d specs not supported: %s", count[NotSupported], len(specs), reason)
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

// SpecCount returns how many specs of the selected IDs (and specs without an ID) have each
// outcome: an ID can be skipped while some of its specs passed, and this says so.
func (r Run) SpecCount() map[Outcome]int {
	out := map[Outcome]int{}
	for _, res := range r.Results {
		if res.Outcome == NotSelected {
			continue
		}
		for _, s := range res.Specs {
			out[s.Outcome]++
		}
	}
	for _, s := range r.Unattributed {
		out[s.Outcome]++
	}
	return out
}

// OK reports whether the run may pass a CI gate: nothing failed, every selected suite ran, no
// suite-level failure, and something was certified.
func (r Run) OK() bool {
	c := r.Count()
	return c[Failed] == 0 && c[NotRun] == 0 && len(r.SuiteFailures) == 0 && r.Certified()
}

// Certified reports whether any spec passed. A run where none did certifies nothing (a target
// whose configuration could not be read claims no behaviour, say) and must not pass a gate.
func (r Run) Certified() bool { return r.SpecCount()[Passed] > 0 }

// NothingCertified is the reason a run in which no spec passed fails.
const NothingCertified = "no spec passed: the run certifies nothing (every selected ID was not supported, skipped or not run; the reasons are in summary.md)"

// OneLine makes a failure message (often Gomega's, over several indented lines) one line a
// console or table can carry: Gomega's type annotations and object dumps go, the rest is joined,
// and it is cut, whole characters only, at 1000 (a whole error message fits).
func OneLine(s string) string {
	var parts []string
	depth := 0
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case depth > 0:
			depth += strings.Count(l, "{") - strings.Count(l, "}")
			continue
		case l == "{":
			depth = 1
			continue
		case l == "":
			continue
		}
		l = typeAnnotation.ReplaceAllString(l, "")
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	out := strings.Join(parts, " ")
	const limit = 1000
	if r := []rune(out); len(r) > limit {
		out = string(r[:limit]) + "…"
	}
	return out
}

// typeAnnotation is how Gomega prefixes a value it prints: "<*fmt.wrapError | 0xc000123>: ".
var typeAnnotation = regexp.MustCompile(`<[^<>]*>:\s?`)

// AllProfiles is every profile, comma-separated: what `make conformance` and `mtlsgate report`
// select by default.
const AllProfiles = "kong,alb,load"

// Select builds the options of a run from comma-separated profiles and IDs (as make's PROFILES
// and IDS, or the CLI's --profiles and --ids, give them), refusing unknown names.
func Select(profiles, ids string) (Options, error) {
	var o Options
	known := map[catalog.Profile]bool{}
	for _, b := range catalog.All() {
		known[b.Profile] = true
	}
	for _, p := range strings.Split(profiles, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !known[catalog.Profile(p)] {
			return Options{}, fmt.Errorf("profiles: unknown profile %q (use %s)", p, AllProfiles)
		}
		o.Profiles = append(o.Profiles, catalog.Profile(p))
	}
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if _, ok := catalog.Lookup(catalog.ID(id)); !ok {
			return Options{}, fmt.Errorf("ids: unknown SPEC ID %q (the IDs are in catalog/CATALOG.md, e.g. K-MTLS-1 or A-POL-1)", id)
		}
		o.IDs = append(o.IDs, catalog.ID(id))
	}
	return o, nil
}

// LabelFilter is the Ginkgo --label-filter that runs only what the options select ("" for
// everything): specs are labelled with their ID and "gateway:<profile>".
func (o Options) LabelFilter() string {
	var parts []string
	if len(o.Profiles) > 0 {
		var ps []string
		for _, p := range o.Profiles {
			ps = append(ps, "gateway:"+string(p))
		}
		parts = append(parts, "("+strings.Join(ps, " || ")+")")
	}
	if len(o.IDs) > 0 {
		var is []string
		for _, id := range o.IDs {
			is = append(is, string(id))
		}
		parts = append(parts, "("+strings.Join(is, " || ")+")")
	}
	return strings.Join(parts, " && ")
}
