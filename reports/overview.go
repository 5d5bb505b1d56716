package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/internal/version"
)

// Overview is the conformance of several targets side by side (one CI job per target, one
// overview after them), as Gateway API publishes its per-implementation reports: every SPEC ID
// with each target's outcome.
type Overview struct {
	APIVersion      string           `json:"apiVersion"`
	Kind            string           `json:"kind"`
	Date            time.Time        `json:"date"`
	MtlsgateVersion string           `json:"mtlsgateVersion"`
	Targets         []OverviewTarget `json:"targets"`
	Rows            []OverviewRow    `json:"rows"`
}

// OverviewTarget is one target's headline: what its own conformance report concluded.
type OverviewTarget struct {
	Implementation
	Result     string     `json:"result"`
	Statistics Statistics `json:"statistics"`
	// Source is the conformance report it was read from.
	Source string `json:"source"`
}

// OverviewRow is one SPEC ID across the targets; Results follow Targets' order ("" when a target's
// report does not list the ID, e.g. a profile it was not run for).
type OverviewRow struct {
	ID        catalog.ID      `json:"id"`
	Profile   catalog.Profile `json:"profile"`
	Behaviour string          `json:"behaviour"`
	Results   []Outcome       `json:"results"`
	Reasons   []string        `json:"reasons"`
}

// ReadConformance reads a conformance.json `mtlsgate report` wrote, or the one in a directory.
func ReadConformance(path string) (ConformanceReport, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "conformance.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ConformanceReport{}, fmt.Errorf("read conformance report: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c ConformanceReport
	if err := dec.Decode(&c); err != nil {
		return ConformanceReport{}, fmt.Errorf("conformance report %s: truncated or not a conformance.json (%v)", path, err)
	}
	if c.Kind != "ConformanceReport" || c.Implementation.Target == "" {
		return ConformanceReport{}, fmt.Errorf("conformance report %s: kind %q, target %q: not a conformance report of one target", path, c.Kind, c.Implementation.Target)
	}
	return c, nil
}

// MergeTargets lays the targets' reports (read from sources) side by side. A target twice is
// refused, naming both files: the overview would not say which run to believe.
func MergeTargets(reports []ConformanceReport, sources []string) (Overview, error) {
	if len(reports) == 0 || len(reports) != len(sources) {
		return Overview{}, errors.New("merge targets: no conformance reports")
	}
	o := Overview{APIVersion: "mtlsgate.dev/v1alpha1", Kind: "ConformanceOverview", Date: time.Now().UTC(), MtlsgateVersion: version.Version}
	seen := map[string]string{}
	rows := map[catalog.ID]*OverviewRow{}
	var order []catalog.ID
	for i, r := range reports {
		if prev, dup := seen[r.Implementation.Target]; dup {
			return Overview{}, fmt.Errorf("merge targets: %s and %s both report target %q", prev, sources[i], r.Implementation.Target)
		}
		seen[r.Implementation.Target] = sources[i]
		o.Targets = append(o.Targets, OverviewTarget{Implementation: r.Implementation, Result: r.Result, Statistics: r.Statistics, Source: sources[i]})
		for _, p := range r.Profiles {
			for _, e := range p.Results {
				row, ok := rows[e.ID]
				if !ok {
					row = &OverviewRow{ID: e.ID, Profile: p.Name, Behaviour: e.Behaviour}
					rows[e.ID] = row
					order = append(order, e.ID)
				}
				for len(row.Results) < i {
					row.Results, row.Reasons = append(row.Results, ""), append(row.Reasons, "")
				}
				row.Results, row.Reasons = append(row.Results, e.Result), append(row.Reasons, e.Reason)
			}
		}
	}
	for _, id := range order {
		row := rows[id]
		for len(row.Results) < len(reports) {
			row.Results, row.Reasons = append(row.Results, ""), append(row.Reasons, "")
		}
		o.Rows = append(o.Rows, *row)
	}
	return o, nil
}

// Failed reports whether any target's own report is a failure.
func (o Overview) Failed() bool {
	for _, t := range o.Targets {
		if t.Result == ResultFailure {
			return true
		}
	}
	return false
}

// markdown is overview.md: the targets' headlines, then one row per SPEC ID.
func (o Overview) markdown() string {
	var b strings.Builder
	b.WriteString("# mtlsgate conformance overview\n\n| target | version | result | passed | failed | skipped | not supported | not covered |\n|---|---|---|---|---|---|---|---|\n")
	for _, t := range o.Targets {
		s := t.Statistics
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %d | %d |\n", escape(t.Target), escape(t.Version), t.Result, s.Passed, s.Failed, s.Skipped, s.NotSupported, s.NotCovered)
	}
	b.WriteString("\n| ID | behaviour |")
	for _, t := range o.Targets {
		b.WriteString(" " + escape(t.Target) + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(o.Targets)) + "\n")
	for _, r := range o.Rows {
		fmt.Fprintf(&b, "| %s | %s |", r.ID, escape(r.Behaviour))
		for i, res := range r.Results {
			cell := string(res)
			if res == "" {
				cell = "–"
			}
			if r.Reasons[i] != "" && res != Passed {
				cell += " (" + r.Reasons[i] + ")"
			}
			b.WriteString(" " + escape(cell) + " |")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteOverview writes overview.md and overview.json into dir.
func WriteOverview(dir string, o Overview) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write overview to %q: %w", dir, err)
	}
	j, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode overview.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overview.json"), append(j, '\n'), 0o644); err != nil {
		return fmt.Errorf("write overview.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overview.md"), []byte(o.markdown()), 0o644); err != nil {
		return fmt.Errorf("write overview.md: %w", err)
	}
	return nil
}
