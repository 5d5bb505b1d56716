package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/reports"
)

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	in := fs.String("ginkgo-json", filepath.Join(outDir, "ginkgo.json"), "the `file` ginkgo --json-report wrote; several (comma-separated, from suites run side by side) are merged in order into --out/ginkgo.json first")
	out := fs.String("out", outDir, "`directory` for summary.md, junit.xml and conformance.yaml/.json")
	profiles := fs.String("profiles", reports.AllProfiles, "the `profiles` the run selected (comma-separated: kong, alb, load); the others' IDs are listed as not selected")
	ids := fs.String("ids", "", "the SPEC `IDs` the run selected (comma-separated, e.g. K-MTLS-1,A-POL-1; all when empty); the others are listed as not selected")
	target := fs.String("target", "", "the `name` of the target, for the report when no suite got far enough to record it")
	mergeTargets := fs.Bool("merge-targets", false, "instead: merge the conformance.json of each target (the DIR… or FILE… arguments, one per CI job) into --out/overview.md and overview.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mergeTargets {
		return runReportMergeTargets(fs.Args(), *out, stdout)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected argument %q (flags only, unless --merge-targets)", fs.Arg(0))
	}
	opts, err := reports.Select(*profiles, *ids)
	if err != nil {
		return err
	}
	opts.Target = *target
	ginkgoJSON, err := mergeGinkgoJSON(*in, *out)
	if err != nil {
		return err
	}
	run, err := reports.Generate(ginkgoJSON, *out, opts, stdout)
	if err != nil {
		return err
	}
	if !run.OK() {
		return explained{errors.New("report: the run failed")}
	}
	return nil
}

// mergeGinkgoJSON returns the one Ginkgo report to read: list itself when it names one file, else
// out/ginkgo.json holding the reports of every file in list, in its order (make conformance runs
// the suites side by side, each writing its own).
func mergeGinkgoJSON(list, out string) (string, error) {
	files := strings.Split(list, ",")
	if len(files) == 1 {
		return list, nil
	}
	var all []types.Report
	for _, f := range files {
		f = strings.TrimSpace(f)
		if f == "" {
			return "", fmt.Errorf("--ginkgo-json %q: an empty file name in the list", list)
		}
		rs, err := reports.ReadGinkgoJSON(f)
		if err != nil {
			return "", fmt.Errorf("--ginkgo-json: %w", err)
		}
		all = append(all, rs...)
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return "", fmt.Errorf("merge the suites' Ginkgo reports: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("create the reports directory --out %q: %w", out, err)
	}
	merged := filepath.Join(out, "ginkgo.json")
	if err := os.WriteFile(merged, b, 0o644); err != nil {
		return "", fmt.Errorf("write the merged Ginkgo report %s: %w", merged, err)
	}
	return merged, nil
}

// runReportMergeTargets writes the conformance overview of several targets' reports; it fails
// when any target's own report is a failure, as that target's job did.
func runReportMergeTargets(args []string, out string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("report --merge-targets: name each target's report directory (or conformance.json)")
	}
	var rs []reports.ConformanceReport
	for _, a := range args {
		r, err := reports.ReadConformance(a)
		if err != nil {
			return fmt.Errorf("report --merge-targets: %w", err)
		}
		rs = append(rs, r)
	}
	o, err := reports.MergeTargets(rs, args)
	if err != nil {
		return fmt.Errorf("report --merge-targets: %w", err)
	}
	if err := reports.WriteOverview(out, o); err != nil {
		return fmt.Errorf("report --merge-targets: %w", err)
	}
	for _, t := range o.Targets {
		fmt.Fprintf(stdout, "  %-24s %-8s %d passed, %d failed, %d skipped, %d not supported, %d not covered\n", t.Target, t.Result,
			t.Statistics.Passed, t.Statistics.Failed, t.Statistics.Skipped, t.Statistics.NotSupported, t.Statistics.NotCovered)
	}
	fmt.Fprintf(stdout, "overview of %d targets written to %s (overview.md, overview.json)\n", len(o.Targets), out)
	if o.Failed() {
		return errors.New("report --merge-targets: a target's conformance failed (see overview.md)")
	}
	return nil
}
