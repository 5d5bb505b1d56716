package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/reports"
)

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	in := fs.String("ginkgo-json", "reports/ginkgo.json", "the file `ginkgo --json-report` wrote")
	out := fs.String("out", "reports", "directory for junit.xml and summary.md")
	profiles := fs.String("profiles", "kong", "profiles whose every SPEC ID is listed, covered or not (comma-separated: kong, alb, load)")
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
	rs, err := reports.ReadGinkgoJSON(*in)
	if err != nil {
		return err
	}
	var ps []catalog.Profile
	for _, p := range strings.Split(*profiles, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, catalog.Profile(p))
		}
	}
	run := reports.FromGinkgo(rs, ps...)
	if err := reports.WriteDir(*out, rs, run); err != nil {
		return err
	}
	c := run.Count()
	fmt.Fprintf(stdout, "reports written to %s: %d passed, %d failed, %d skipped, %d not supported, %d not covered\n",
		*out, c[reports.Passed], c[reports.Failed], c[reports.Skipped], c[reports.NotSupported], c[reports.NotCovered])
	if !run.OK() {
		return errors.New("report: the run has failures (see summary.md)")
	}
	return nil
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
