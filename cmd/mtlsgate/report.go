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
	if err := fs.Parse(args); err != nil {
		return err
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
