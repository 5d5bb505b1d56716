package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/internal/version"
)

// Overall results of a conformance report, as Gateway API's ConformanceReport has them:
// success when every selected ID the target supports passed; partial when nothing failed but
// some were skipped or have no spec; failure when something failed or a suite did not run.
const (
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultFailure = "failure"
)

// ConformanceReport is reports/conformance.yaml (and .json): what one target is certified for.
type ConformanceReport struct {
	APIVersion      string          `json:"apiVersion" yaml:"apiVersion"`
	Kind            string          `json:"kind" yaml:"kind"`
	Date            time.Time       `json:"date" yaml:"date"`
	MtlsgateVersion string          `json:"mtlsgateVersion" yaml:"mtlsgateVersion"`
	Implementation  Implementation  `json:"implementation" yaml:"implementation"`
	Result          string          `json:"result" yaml:"result"`
	Statistics      Statistics      `json:"statistics" yaml:"statistics"`
	Profiles        []ProfileReport `json:"profiles" yaml:"profiles"`
	SuiteFailures   []string        `json:"suiteFailures,omitempty" yaml:"suiteFailures,omitempty"`
}

// Implementation names the target the run certified.
type Implementation struct {
	Target  string `json:"target" yaml:"target"`
	Version string `json:"version" yaml:"version"`
	// Provenance says which claims were proven against the real system and which were not.
	Provenance []string `json:"provenance,omitempty" yaml:"provenance,omitempty"`
	// Resources name the cloud resources certified (region, listener and trust store ARNs).
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
}

// Statistics counts SPEC IDs by outcome.
type Statistics struct {
	Passed       int `json:"passed" yaml:"passed"`
	Failed       int `json:"failed" yaml:"failed"`
	Skipped      int `json:"skipped" yaml:"skipped"`
	NotSupported int `json:"notSupported" yaml:"notSupported"`
	NotCovered   int `json:"notCovered" yaml:"notCovered"`
	NotRun       int `json:"notRun" yaml:"notRun"`
	NotSelected  int `json:"notSelected" yaml:"notSelected"`
}

func (s *Statistics) add(o Outcome) {
	switch o {
	case Passed:
		s.Passed++
	case Failed:
		s.Failed++
	case Skipped:
		s.Skipped++
	case NotSupported:
		s.NotSupported++
	case NotCovered:
		s.NotCovered++
	case NotRun:
		s.NotRun++
	case NotSelected:
		s.NotSelected++
	}
}

// result is the overall verdict: any failure, or a suite that did not run → failure; any skip or
// gap → partial. Behaviours the target declares it does not support, and IDs not selected for
// the run, do not count against it; they are listed.
func (s Statistics) result() string {
	switch {
	case s.Failed > 0 || s.NotRun > 0:
		return ResultFailure
	case s.Skipped > 0 || s.NotCovered > 0:
		return ResultPartial
	}
	return ResultSuccess
}

// ProfileReport is one profile's part of the report.
type ProfileReport struct {
	Name                catalog.Profile   `json:"name" yaml:"name"`
	Result              string            `json:"result" yaml:"result"`
	Statistics          Statistics        `json:"statistics" yaml:"statistics"`
	SupportedFeatures   []catalog.Feature `json:"supportedFeatures" yaml:"supportedFeatures"`
	UnsupportedFeatures []catalog.Feature `json:"unsupportedFeatures,omitempty" yaml:"unsupportedFeatures,omitempty"`
	Results             []IDEntry         `json:"results" yaml:"results"`
}

// IDEntry is one SPEC ID's line in the report.
type IDEntry struct {
	ID        catalog.ID      `json:"id" yaml:"id"`
	Behaviour string          `json:"behaviour" yaml:"behaviour"`
	Feature   catalog.Feature `json:"feature" yaml:"feature"`
	Result    Outcome         `json:"result" yaml:"result"`
	Reason    string          `json:"reason,omitempty" yaml:"reason,omitempty"`
	Specs     int             `json:"specs" yaml:"specs"`
	Passed    int             `json:"passedSpecs" yaml:"passedSpecs"`
}

// Conformance builds the conformance report of a run.
func Conformance(run Run) ConformanceReport {
	r := ConformanceReport{
		APIVersion: "mtlsgate.dev/v1alpha1", Kind: "ConformanceReport", Date: run.Start.UTC(),
		MtlsgateVersion: version.Version, SuiteFailures: run.SuiteFailures,
		Implementation: Implementation{Target: joinOr(run.Targets, "unknown"), Version: joinOr(run.TargetVersions, "unknown"), Provenance: run.Provenance, Resources: run.Resources},
	}
	byProfile := map[catalog.Profile]*ProfileReport{}
	var order []catalog.Profile
	for _, res := range run.Results {
		p, ok := byProfile[res.Profile]
		if !ok {
			p = &ProfileReport{Name: res.Profile}
			byProfile[res.Profile] = p
			order = append(order, res.Profile)
		}
		e := IDEntry{ID: res.ID, Behaviour: res.Title, Feature: res.Feature, Result: res.Outcome, Reason: res.Reason, Specs: len(res.Specs)}
		for _, s := range res.Specs {
			if s.Outcome == Passed {
				e.Passed++
			}
		}
		p.Results = append(p.Results, e)
		p.Statistics.add(res.Outcome)
		r.Statistics.add(res.Outcome)
	}
	for _, name := range order {
		p := byProfile[name]
		if p.Statistics.NotSelected == len(p.Results) {
			continue // a profile left out of the run certifies nothing; summary.md says it was not selected
		}
		p.Result = p.Statistics.result()
		supported, unsupported := map[catalog.Feature]bool{}, map[catalog.Feature]bool{}
		for _, e := range p.Results {
			if e.Result == NotSelected || e.Result == NotRun {
				continue
			}
			if e.Result == NotSupported {
				unsupported[e.Feature] = true
			} else {
				supported[e.Feature] = true
			}
		}
		for f := range supported {
			p.SupportedFeatures = append(p.SupportedFeatures, f)
		}
		for f := range unsupported {
			if !supported[f] {
				p.UnsupportedFeatures = append(p.UnsupportedFeatures, f)
			}
		}
		slices.Sort(p.SupportedFeatures)
		slices.Sort(p.UnsupportedFeatures)
		r.Profiles = append(r.Profiles, *p)
	}
	r.Result = r.Statistics.result()
	if len(run.SuiteFailures) > 0 || !run.Certified() {
		r.Result = ResultFailure
	}
	return r
}

func joinOr(list []string, def string) string {
	if len(list) == 0 {
		return def
	}
	out := list[0]
	for _, s := range list[1:] {
		out += ", " + s
	}
	return out
}

// writeConformance writes conformance.yaml and conformance.json into dir.
func writeConformance(dir string, c ConformanceReport) error {
	y, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode conformance.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conformance.yaml"), y, 0o644); err != nil {
		return fmt.Errorf("write conformance.yaml: %w", err)
	}
	j, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode conformance.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conformance.json"), append(j, '\n'), 0o644); err != nil {
		return fmt.Errorf("write conformance.json: %w", err)
	}
	return nil
}
