package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
)

func TestMergeTargetsLaysTheReportsSideBySide(t *testing.T) {
	report := func(target, result string, entries ...IDEntry) ConformanceReport {
		return ConformanceReport{APIVersion: "mtlsgate.dev/v1alpha1", Kind: "ConformanceReport", Result: result,
			Implementation: Implementation{Target: target, Version: "v"},
			Profiles:       []ProfileReport{{Name: catalog.Kong, Results: entries}}}
	}
	ref := report("reference", ResultSuccess, IDEntry{ID: "K-MTLS-1", Behaviour: "no certificate", Result: Passed}, IDEntry{ID: "K-MTLS-2", Result: Passed})
	ngx := report("nginx", ResultFailure, IDEntry{ID: "K-MTLS-2", Result: Failed}, IDEntry{ID: "K-UP-1", Result: NotSupported, Reason: "no client_ssl"})
	dir := t.TempDir()
	var paths []string
	for _, r := range []ConformanceReport{ref, ngx} {
		d := filepath.Join(dir, r.Implementation.Target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeConformance(d, r); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, d)
	}
	var rs []ConformanceReport
	for _, p := range paths {
		r, err := ReadConformance(p)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	o, err := MergeTargets(rs, paths)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Failed() || len(o.Targets) != 2 || len(o.Rows) != 3 {
		t.Fatalf("overview %+v", o)
	}
	want := map[catalog.ID][]Outcome{"K-MTLS-1": {Passed, ""}, "K-MTLS-2": {Passed, Failed}, "K-UP-1": {"", NotSupported}}
	for _, r := range o.Rows {
		if strings.Join(outcomes(r.Results), ",") != strings.Join(outcomes(want[r.ID]), ",") {
			t.Errorf("%s: %v, want %v", r.ID, r.Results, want[r.ID])
		}
	}
	if err := WriteOverview(dir, o); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "overview.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| ID | behaviour | reference | nginx |", "| K-UP-1 |  | – | not supported (no client_ssl) |", "| nginx | v | failure |"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("overview.md lacks %q:\n%s", s, md)
		}
	}

	if _, err := MergeTargets([]ConformanceReport{ref, ref}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "a and b both report") {
		t.Errorf("a target twice: %v", err)
	}
	cut := filepath.Join(dir, "cut.json")
	b, _ := os.ReadFile(filepath.Join(paths[0], "conformance.json"))
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConformance(cut); err == nil || !strings.Contains(err.Error(), cut) {
		t.Errorf("a truncated report: %v", err)
	}
}

func outcomes(os []Outcome) []string {
	var out []string
	for _, o := range os {
		out = append(out, string(o))
	}
	return out
}
