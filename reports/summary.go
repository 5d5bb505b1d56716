package reports

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
)

var outcomeMark = map[Outcome]string{
	Passed: "✅ passed", Failed: "❌ failed", Skipped: "⏭️ skipped", NotSupported: "➖ not supported", NotCovered: "⚠️ not covered",
	NotRun: "❌ not run", NotSelected: "⬜ not selected",
}

// idOutcomes are the outcomes the ID counts list, in order.
var idOutcomes = []Outcome{Passed, Failed, Skipped, NotSupported, NotCovered, NotRun, NotSelected}

// ResultsLegend explains the conformance results in a sentence.
const ResultsLegend = "success: every selected ID the target supports passed; partial: nothing failed, but some IDs were skipped or have no spec; " +
	"failure: an ID failed or a suite did not run. IDs the target does not support, or not selected for the run, count neither way."

// counts renders the counts of outcomes, leaving out zero ones after the first two (passed and failed are always said).
func counts(c map[Outcome]int, order []Outcome) string {
	var parts []string
	for i, o := range order {
		if c[o] > 0 || i < 2 {
			parts = append(parts, fmt.Sprintf("%d %s", c[o], o))
		}
	}
	return strings.Join(parts, ", ")
}

// idCounts is the run's ID counts with its suite-level failures, so a red verdict never reads "0 failed" alone.
func idCounts(run Run) string {
	out := counts(run.Count(), idOutcomes)
	if n := len(run.SuiteFailures); n > 0 {
		out += fmt.Sprintf("; %d suite failure%s", n, plural(n))
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Verdict is the gate's word on a run: PASS or FAIL.
func (r Run) Verdict() string {
	if r.OK() {
		return "PASS"
	}
	return "FAIL"
}

// targetLine names the target and its version.
func (r Run) targetLine() string {
	return fmt.Sprintf("%s (version %s)", joinOr(r.Targets, "unknown"), joinOr(r.TargetVersions, "unknown"))
}

// specsCell says how many of an ID's specs passed of those that ran, and how many the target does not support.
func specsCell(r IDResult) string {
	if len(r.Specs) == 0 || r.Outcome == NotSelected || r.Outcome == NotRun {
		return "–"
	}
	c := map[Outcome]int{}
	for _, s := range r.Specs {
		c[s.Outcome]++
	}
	ns := c[NotSupported]
	if ns == len(r.Specs) {
		return fmt.Sprintf("%d not supported", ns)
	}
	cell := fmt.Sprintf("%d/%d passed", c[Passed], len(r.Specs)-ns)
	if ns > 0 {
		cell += fmt.Sprintf(" (+%d not supported)", ns)
	}
	return cell
}

// WriteSummary writes the Markdown summary: totals, then one table row per SPEC ID, fit for a
// CI step summary.
func WriteSummary(w io.Writer, run Run) error {
	var b strings.Builder
	b.WriteString("# mtlsgate conformance summary\n\n")
	fmt.Fprintf(&b, "- target: %s\n", run.targetLine())
	started := "(no suite started)"
	if !run.Start.IsZero() {
		started = run.Start.UTC().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(&b, "- started: %s\n- duration: %s\n", started, run.Duration.Round(1e6))
	for _, p := range run.Provenance {
		fmt.Fprintf(&b, "- provenance: %s\n", p)
	}
	for _, r := range run.Resources {
		fmt.Fprintf(&b, "- certified: %s\n", escape(r))
	}
	fmt.Fprintf(&b, "- verdict: **%s** (conformance: %s)\n", run.Verdict(), Conformance(run).Result)
	fmt.Fprintf(&b, "- SPEC IDs: %s\n", idCounts(run))
	fmt.Fprintf(&b, "- specs: %s\n", counts(run.SpecCount(), []Outcome{Passed, Failed, Skipped, NotSupported}))
	for _, f := range run.SuiteFailures {
		fmt.Fprintf(&b, "- suite failure: %s\n", escape(f))
	}
	if !run.Certified() {
		fmt.Fprintf(&b, "- %s\n", NothingCertified)
	}
	fmt.Fprintf(&b, "\nConformance results: %s\n", ResultsLegend)
	for _, p := range profiles(run) {
		rows := profileRows(run, p)
		c := map[Outcome]int{}
		for _, r := range rows {
			c[r.Outcome]++
		}
		fmt.Fprintf(&b, "\n## %s profile\n\n", p)
		if c[NotSelected] == len(rows) {
			fmt.Fprintf(&b, "Not selected for this run (%d IDs).\n", len(rows))
			continue
		}
		b.WriteString("| ID | behaviour | result | specs | why |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.ID, escape(r.Title), outcomeMark[r.Outcome], specsCell(r), escape(r.Reason))
		}
	}
	var unsupported []string
	for _, r := range run.Results {
		if r.Outcome == NotSupported {
			unsupported = append(unsupported, string(r.ID))
		}
	}
	if len(unsupported) > 0 {
		fmt.Fprintf(&b, "\nNot supported by %s: %s.\n", joinOr(run.Targets, "the target"), strings.Join(unsupported, ", "))
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

// profiles lists the run's profiles in catalogue order.
func profiles(run Run) []catalog.Profile {
	var out []catalog.Profile
	for _, r := range run.Results {
		if !slices.Contains(out, r.Profile) {
			out = append(out, r.Profile)
		}
	}
	return out
}

// profileRows are one profile's results.
func profileRows(run Run, p catalog.Profile) []IDResult {
	var out []IDResult
	for _, r := range run.Results {
		if r.Profile == p {
			out = append(out, r)
		}
	}
	return out
}

// WriteConsole writes what a CI log shows at the end of a run: the target, the counts per
// profile, the verdict and where the reports are; then, for a red run, each failed ID and suite
// failure with its one-line reason, as the last lines.
func WriteConsole(w io.Writer, run Run, dir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "mtlsgate conformance: target %s\n", run.targetLine())
	for _, p := range profiles(run) {
		c := map[Outcome]int{}
		for _, r := range profileRows(run, p) {
			c[r.Outcome]++
		}
		if c[NotSelected] == len(profileRows(run, p)) {
			fmt.Fprintf(&b, "  %-5s not selected\n", p)
			continue
		}
		fmt.Fprintf(&b, "  %-5s %s\n", p, counts(c, idOutcomes))
	}
	sc := run.SpecCount()
	fmt.Fprintf(&b, "verdict: %s (conformance: %s; IDs: %s; specs: %s)\n", run.Verdict(), Conformance(run).Result, idCounts(run),
		counts(sc, []Outcome{Passed, Failed, Skipped, NotSupported}))
	fmt.Fprintf(&b, "reports: %s (and junit.xml, conformance.yaml, conformance.json there)\n", filepath.Join(dir, "summary.md"))
	if !run.OK() {
		b.WriteString("failed:\n")
		// IDs that did not run share their suite's reason: one line per reason.
		var reasons []string
		notRun := map[string][]string{}
		for _, r := range run.Results {
			switch r.Outcome {
			case Failed:
				fmt.Fprintf(&b, "  %s: %s\n", r.ID, r.Reason)
			case NotRun:
				if notRun[r.Reason] == nil {
					reasons = append(reasons, r.Reason)
				}
				notRun[r.Reason] = append(notRun[r.Reason], string(r.ID))
			}
		}
		said := map[string]bool{}
		for _, why := range reasons {
			fmt.Fprintf(&b, "  %s: %s\n", strings.Join(notRun[why], ", "), why)
			said[strings.Replace(why, " did not run: ", ": ", 1)] = true
		}
		for _, f := range run.SuiteFailures {
			if !said[f] { // a suite failure its IDs' line above already gave
				fmt.Fprintf(&b, "  %s\n", f)
			}
		}
		if !run.Certified() {
			fmt.Fprintf(&b, "  %s\n", NothingCertified)
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

// Generate is the whole report step of a conformance run: it reads the JSON Ginkgo wrote
// (ginkgo --json-report), writes summary.md, junit.xml and conformance.yaml/.json into dir, and
// writes the console summary to console. The Run it returns says whether the gate passes (OK).
func Generate(ginkgoJSON, dir string, opts Options, console io.Writer) (Run, error) {
	rs, err := ReadGinkgoJSON(ginkgoJSON)
	if err != nil {
		return Run{}, err
	}
	run := FromGinkgo(rs, opts)
	if err := WriteDir(dir, rs, run); err != nil {
		return run, err
	}
	if err := WriteConsole(console, run, dir); err != nil {
		return run, fmt.Errorf("write the console summary: %w", err)
	}
	return run, nil
}
