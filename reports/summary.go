package reports

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
)

var outcomeMark = map[Outcome]string{
	Passed: "✅ passed", Failed: "❌ failed", Skipped: "⏭️ skipped", NotSupported: "➖ not supported", NotCovered: "⚠️ not covered",
}

// WriteSummary writes the Markdown summary: totals, then one table row per SPEC ID, fit for a
// CI step summary.
func WriteSummary(w io.Writer, run Run) error {
	var b strings.Builder
	b.WriteString("# mtlsgate conformance summary\n\n")
	targets := strings.Join(run.Targets, ", ")
	if targets == "" {
		targets = "(unknown)"
	}
	fmt.Fprintf(&b, "- target: %s (version %s)\n- started: %s\n- duration: %s\n", targets, joinOr(run.TargetVersions, "unknown"),
		run.Start.UTC().Format("2006-01-02 15:04:05 MST"), run.Duration.Round(1e6))
	for _, p := range run.Provenance {
		fmt.Fprintf(&b, "- provenance: %s\n", p)
	}
	c := run.Count()
	fmt.Fprintf(&b, "- SPEC IDs: %d passed, %d failed, %d skipped, %d not supported, %d not covered\n",
		c[Passed], c[Failed], c[Skipped], c[NotSupported], c[NotCovered])
	verdict := "PASS"
	if !run.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "- verdict: **%s** (conformance: %s)\n", verdict, Conformance(run).Result)
	for _, f := range run.SuiteFailures {
		fmt.Fprintf(&b, "- suite failure: %s\n", escape(f))
	}
	var profile catalog.Profile
	for _, r := range run.Results {
		if r.Profile != profile {
			profile = r.Profile
			fmt.Fprintf(&b, "\n## %s profile\n\n| ID | behaviour | result | specs | why |\n|---|---|---|---|---|\n", profile)
		}
		passed := 0
		for _, s := range r.Specs {
			if s.Outcome == Passed {
				passed++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %s |\n", r.ID, escape(r.Title), outcomeMark[r.Outcome], passed, len(r.Specs), escape(r.Reason))
	}
	var unsupported []string
	for _, r := range run.Results {
		if r.Outcome == NotSupported {
			unsupported = append(unsupported, string(r.ID))
		}
	}
	if len(unsupported) > 0 {
		fmt.Fprintf(&b, "\nNot supported by %s: %s.\n", targets, strings.Join(unsupported, ", "))
	}
	if len(run.Unattributed) > 0 {
		b.WriteString("\n## Specs without a SPEC ID\n\n| spec | result | why |\n|---|---|---|\n")
		for _, s := range run.Unattributed {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", escape(s.Name), outcomeMark[s.Outcome], escape(s.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteDir writes summary.md, junit.xml (one testsuite per Ginkgo suite) and conformance.yaml
// and .json into dir.
func WriteDir(dir string, rs []types.Report, run Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write reports to %q: %w", dir, err)
	}
	var summary strings.Builder
	if err := WriteSummary(&summary, run); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(summary.String()), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	var parts []string
	for i, r := range rs {
		part := filepath.Join(dir, fmt.Sprintf(".junit-%d.xml", i))
		if err := reporters.GenerateJUnitReport(r, part); err != nil {
			return fmt.Errorf("write junit.xml: %w", err)
		}
		parts = append(parts, part)
	}
	if _, err := reporters.MergeAndCleanupJUnitReports(parts, filepath.Join(dir, "junit.xml")); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	return writeConformance(dir, Conformance(run))
}
