package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance/record"
)

// spec is a spec's result as a Ginkgo JSON report holds it. A text "<ID>: …" is a spec conformance
// declared, so it carries its value (read back from JSON, as `mtlsgate report` reads it); any other
// text is a plain Ginkgo spec, which carries none.
func spec(text string, state types.SpecState, msg string) types.SpecReport {
	s := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}, RunTime: time.Millisecond}
	if head, _, ok := strings.Cut(text, ":"); ok {
		if _, declared := catalog.Lookup(catalog.ID(head)); declared {
			rec := record.For(catalog.ID(head))
			rec.Name = text
			s.ReportEntries = viaJSON(rec)
		}
	}
	return s
}

// viaJSON is rec as a report entry read back from a Ginkgo JSON report.
func viaJSON(rec record.Spec) types.ReportEntries {
	var entries types.ReportEntries
	b, err := json.Marshal(types.ReportEntries{{Name: record.SpecEntry, Value: types.WrapEntryValue(rec)}})
	if err == nil {
		err = json.Unmarshal(b, &entries)
	}
	if err != nil {
		panic(fmt.Sprintf("round-trip a record through JSON: %v", err))
	}
	return entries
}

// notSupported is a spec conformance skipped as not supported.
func notSupported(text, why string) types.SpecReport {
	s := spec(text, types.SpecStateSkipped, record.NotSupportedPrefix+why)
	rec, ok, err := record.FromEntries(s.ReportEntries)
	if !ok || err != nil {
		panic(fmt.Sprintf("fixture %q names no SPEC ID: %v", text, err))
	}
	rec.NotSupported, rec.Reason = true, why
	s.ReportEntries = viaJSON(rec)
	return s
}

// "Not supported" is the typed record conformance attaches, never the skip text: a skip whose
// message merely starts like one is skipped, and a record attaches its spec to its ID whatever
// the spec's name.
func TestNotSupportedIsTheRecordNotTheText(t *testing.T) {
	lookalike := spec("K-MTLS-1: a", types.SpecStateSkipped, record.NotSupportedPrefix+"said the spec body")
	inMemory := spec("renamed spec", types.SpecStateSkipped, "whatever the console says")
	inMemory.ReportEntries = types.ReportEntries{{Name: record.SpecEntry,
		Value: types.WrapEntryValue(record.Spec{ID: "K-MTLS-2", Feature: catalog.MTLSAuth, Profile: catalog.Kong, NotSupported: true, Reason: "no CRL"})}}
	run := FromGinkgo([]types.Report{{SpecReports: types.SpecReports{lookalike, inMemory, notSupported("K-MTLS-3: c", "nope")}}},
		Options{IDs: []catalog.ID{"K-MTLS-1", "K-MTLS-2", "K-MTLS-3"}})
	for id, want := range map[catalog.ID][2]string{
		"K-MTLS-1": {string(Skipped), "1 of 1 specs did not run: not supported: said the spec body"},
		"K-MTLS-2": {string(NotSupported), "no CRL"},
		"K-MTLS-3": {string(NotSupported), "nope"},
	} {
		if r := result(run, id); string(r.Outcome) != want[0] || r.Reason != want[1] {
			t.Errorf("%s: %q %q, want %q %q", id, r.Outcome, r.Reason, want[0], want[1])
		}
	}
	if len(run.Unattributed) != 0 {
		t.Errorf("unattributed: %v", run.Unattributed)
	}
}

func TestAggregatesPerSpecID(t *testing.T) {
	r := types.Report{SuiteDescription: "kong", StartTime: time.Unix(1, 0), SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed,
			ReportEntries: types.ReportEntries{{Name: record.TargetEntry, Value: types.WrapEntryValue("reference")},
				{Name: record.TargetProvenanceEntry, Value: types.WrapEntryValue("proven against a real Kong image: none")}}},
		spec("K-MTLS-1: no certificate → 401", types.SpecStatePassed, ""),
		spec("K-MTLS-1: TLS without certificate → 401", types.SpecStatePassed, ""),
		spec("K-MTLS-2: expired → 401", types.SpecStatePassed, ""),
		spec("K-MTLS-2: revoked → 401", types.SpecStateSkipped, "needs a CRL responder"),
		spec("K-MTLS-3: no consumer → 401", types.SpecStateFailed, "Expected 401\ngot 200"),
		notSupported("K-ADM-1: create", "target nginx has no Admin API"),
		spec("K-ADM-2: errors", types.SpecStatePending, ""),
		spec("walkthrough without an ID", types.SpecStatePassed, ""),
	}}
	run := FromGinkgo([]types.Report{r}, Options{Profiles: []catalog.Profile{catalog.Kong}})
	got := map[catalog.ID]IDResult{}
	for _, res := range run.Results {
		got[res.ID] = res
	}
	want := map[catalog.ID]Outcome{
		"K-MTLS-1": Passed, "K-MTLS-2": Skipped, "K-MTLS-3": Failed, "K-ADM-1": NotSupported, "K-ADM-2": Skipped, "K-UP-1": NotCovered,
	}
	for id, o := range want {
		if got[id].Outcome != o {
			t.Errorf("%s: outcome %q, want %q (%s)", id, got[id].Outcome, o, got[id].Reason)
		}
	}
	if !strings.Contains(got["K-MTLS-2"].Reason, "needs a CRL responder") || !strings.Contains(got["K-ADM-1"].Reason, "no Admin API") {
		t.Errorf("reasons lost: %q / %q", got["K-MTLS-2"].Reason, got["K-ADM-1"].Reason)
	}
	if got["A-TS-1"].Outcome != NotSelected {
		t.Errorf("an ALB ID in a Kong-only run: %q, want not selected", got["A-TS-1"].Outcome)
	}
	if len(run.Provenance) != 1 || run.Provenance[0] != "proven against a real Kong image: none" || len(Conformance(run).Implementation.Provenance) != 1 {
		t.Errorf("provenance %v not carried into the run and the conformance report", run.Provenance)
	}
	if len(run.Targets) != 1 || run.Targets[0] != "reference" || len(run.Unattributed) != 1 || run.OK() {
		t.Errorf("targets %v unattributed %v ok %v", run.Targets, run.Unattributed, run.OK())
	}

	dir := t.TempDir()
	if err := WriteDir(dir, []types.Report{r}, run); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	for _, want := range []string{"| K-MTLS-3 |", "❌ failed", "➖ not supported", "verdict: **FAIL**", "target: reference", "- provenance: proven against a real Kong image: none"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if x, err := os.ReadFile(filepath.Join(dir, "junit.xml")); err != nil || !strings.Contains(string(x), "K-MTLS-3: no consumer") {
		t.Errorf("junit.xml: %v\n%s", err, x)
	}
	y, err := os.ReadFile(filepath.Join(dir, "conformance.yaml"))
	for _, want := range []string{"kind: ConformanceReport", "result: failure", "target: reference", "id: K-ADM-1", "result: not supported"} {
		if err != nil || !strings.Contains(string(y), want) {
			t.Errorf("conformance.yaml lacks %q (%v):\n%s", want, err, y)
		}
	}
	if b, err := json.Marshal(run); err != nil || !strings.Contains(string(b), `"outcome":"not covered"`) {
		t.Errorf("run JSON: %v %s", err, b)
	}
}

func TestConformanceResult(t *testing.T) {
	mk := func(states ...types.SpecState) Run {
		var specs types.SpecReports
		for i, st := range states {
			name := []string{"K-MTLS-1: a", "K-MTLS-2: b", "K-MTLS-3: c"}[i]
			if st == types.SpecStateSkipped && i == 0 {
				specs = append(specs, notSupported(name, "no"))
				continue
			}
			specs = append(specs, spec(name, st, ""))
		}
		return FromGinkgo([]types.Report{{SpecReports: specs}}, Options{IDs: []catalog.ID{"K-MTLS-1", "K-MTLS-2", "K-MTLS-3"}})
	}
	cases := []struct {
		run  Run
		want string
	}{
		{mk(types.SpecStatePassed, types.SpecStatePassed, types.SpecStatePassed), ResultSuccess},
		{mk(types.SpecStateSkipped, types.SpecStatePassed, types.SpecStatePassed), ResultSuccess}, // first is "not supported"
		{mk(types.SpecStatePassed, types.SpecStateSkipped, types.SpecStatePassed), ResultPartial},
		{mk(types.SpecStatePassed, types.SpecStatePassed, types.SpecStateFailed), ResultFailure},
	}
	for i, c := range cases {
		got := Conformance(c.run)
		if got.Result != c.want {
			t.Errorf("case %d: result %q, want %q (%+v)", i, got.Result, c.want, got.Statistics)
		}
	}
	c := Conformance(cases[1].run)
	if len(c.Profiles) != 1 || len(c.Profiles[0].UnsupportedFeatures) != 0 || c.Profiles[0].Statistics.NotSupported != 1 {
		t.Errorf("profiles: %+v", c.Profiles)
	}
}

// An ALB certified through the ELBv2 API names its region and ARNs in every report, once each
// however many specs recorded them.
func TestCarriesCertifiedResources(t *testing.T) {
	res := types.ReportEntries{{Name: record.TargetResourcesEntry, Value: types.WrapEntryValue("region: eu-west-1")},
		{Name: record.TargetResourcesEntry, Value: types.WrapEntryValue("listener: arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/a/1/2")}}
	a, b := spec("A-API-1: seed story", types.SpecStatePassed, ""), spec("A-API-1: change", types.SpecStatePassed, "")
	a.ReportEntries, b.ReportEntries = res, res
	run := FromGinkgo([]types.Report{{SuiteDescription: "alb", SpecReports: types.SpecReports{a, b}}}, Options{IDs: []catalog.ID{"A-API-1"}})
	if len(run.Resources) != 2 || run.Resources[0] != "region: eu-west-1" {
		t.Fatalf("resources %v, want the region and the listener once each", run.Resources)
	}
	if got := Conformance(run).Implementation.Resources; len(got) != 2 {
		t.Errorf("conformance report's implementation.resources %v", got)
	}
	var md strings.Builder
	if err := WriteSummary(&md, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "- certified: listener: arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/a/1/2") {
		t.Errorf("summary lacks the listener ARN:\n%s", md.String())
	}
}

// A spec belongs to the ID its value names, never to one its name starts with: a spec that
// carries no value is unattributed, whatever its name says.
func TestANameIsNotABinding(t *testing.T) {
	bare := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "K-MTLS-4: named like a spec, declared with Ginkgo's It", State: types.SpecStatePassed}
	run := FromGinkgo([]types.Report{{SpecReports: types.SpecReports{bare}}}, Options{IDs: []catalog.ID{"K-MTLS-4"}})
	if r := result(run, "K-MTLS-4"); r.Outcome != NotCovered {
		t.Errorf("K-MTLS-4: %q, want %q: a name binds nothing", r.Outcome, NotCovered)
	}
	if len(run.Unattributed) != 1 || run.Unattributed[0].Name != bare.LeafNodeText {
		t.Errorf("unattributed: %v, want the bare spec", run.Unattributed)
	}
}
