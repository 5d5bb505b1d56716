package main

import (
	"context"
	"errors"
	"io"

	"github.com/mtlsgate/mtlsgate/reports"
)

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	in := fs.String("ginkgo-json", "reports/ginkgo.json", "the `file` ginkgo --json-report wrote")
	out := fs.String("out", "reports", "`directory` for summary.md, junit.xml and conformance.yaml/.json")
	profiles := fs.String("profiles", reports.AllProfiles, "the `profiles` the run selected (comma-separated: kong, alb, load); the others' IDs are listed as not selected")
	ids := fs.String("ids", "", "the SPEC `IDs` the run selected (comma-separated, e.g. K-MTLS-1,A-POL-1; all when empty); the others are listed as not selected")
	target := fs.String("target", "", "the `name` of the target, for the report when no suite got far enough to record it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := reports.Select(*profiles, *ids)
	if err != nil {
		return err
	}
	opts.Target = *target
	run, err := reports.Generate(*in, *out, opts, stdout)
	if err != nil {
		return err
	}
	if !run.OK() {
		return explained{errors.New("report: the run failed")}
	}
	return nil
}
