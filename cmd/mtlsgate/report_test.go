package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/reports"
)

// make conformance runs the suites side by side, each writing its own Ginkgo report; the report
// command merges them, in the order given, into out/ginkgo.json.
func TestMergeGinkgoJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, suites ...string) string {
		var rs []types.Report
		for _, s := range suites {
			rs = append(rs, types.Report{SuiteDescription: s, SuitePath: "/x/suites/" + s})
		}
		b, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kong, alb := write("ginkgo-kong.json", "kong"), write("ginkgo-alb.json", "alb")
	out := filepath.Join(dir, "out")

	one, err := mergeGinkgoJSON(kong, out)
	if err != nil || one != kong {
		t.Fatalf("one file: got %q, %v; want it read where it is", one, err)
	}
	merged, err := mergeGinkgoJSON(alb+","+kong, out)
	if err != nil {
		t.Fatal(err)
	}
	if merged != filepath.Join(out, "ginkgo.json") {
		t.Fatalf("merged into %q, want out/ginkgo.json", merged)
	}
	rs, err := reports.ReadGinkgoJSON(merged)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.SuiteDescription)
	}
	if strings.Join(got, ",") != "alb,kong" {
		t.Fatalf("merged suites %v, want alb then kong", got)
	}

	if _, err := mergeGinkgoJSON(kong+",", out); err == nil || !strings.Contains(err.Error(), "empty file name") {
		t.Fatalf("a trailing comma: got %v, want an error naming the empty file name", err)
	}
	if _, err := mergeGinkgoJSON(kong+","+filepath.Join(dir, "missing.json"), out); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("a missing file: got %v, want an error naming it", err)
	}
}
