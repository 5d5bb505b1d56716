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

// summary renders a run's summary.md.
func summary(t *testing.T, run Run) string {
	t.Helper()
	var b strings.Builder
	if err := WriteSummary(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// console renders a run's console summary.
func console(t *testing.T, run Run) string {
	t.Helper()
	var b strings.Builder
	if err := WriteConsole(&b, run, "out"); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func result(run Run, id catalog.ID) IDResult {
	for _, r := range run.Results {
		if r.ID == id {
			return r
		}
	}
	return IDResult{}
}

func kongOnly() Options { return Options{Profiles: []catalog.Profile{catalog.Kong}} }

// An external target that supports only the black-box specs: the specs that passed are counted,
// though their IDs are not all passed.
func TestExternalRunCountsPassedSpecs(t *testing.T) {
	ns := "target external configures nothing through the Admin API"
	run := FromGinkgo([]types.Report{{SpecReports: types.SpecReports{
		spec("K-MTLS-1: no certificate → 401", types.SpecStatePassed, ""),
		notSupported("K-MTLS-1: with consumer", ns),
		spec("K-MTLS-2: expired → 401", types.SpecStatePassed, ""),
		notSupported("K-MTLS-2: revoked", ns),
		notSupported("K-ADM-1: a", ns),
		notSupported("K-ADM-1: b", ns),
		notSupported("K-ADM-1: c", ns),
		notSupported("K-ADM-1: d", ns),
	}}}, kongOnly())
	if got := run.SpecCount()[Passed]; got != 2 {
		t.Errorf("passed specs: %d, want 2", got)
	}
	if got := run.Count()[Passed]; got != 2 {
		t.Errorf("passed IDs: %d, want 2 (every spec the target supports passed)", got)
	}
	if r := result(run, "K-MTLS-1"); r.Reason != "1 of 2 specs not supported: target external configures nothing through the Admin API" {
		t.Errorf("K-MTLS-1 reason %q", r.Reason)
	}
	md := summary(t, run)
	for _, want := range []string{"- specs: 2 passed, 0 failed, 6 not supported", "| 1/1 passed (+1 not supported) |", "| 4 not supported |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "0/4") {
		t.Errorf("a not-supported row reads 0/4:\n%s", md)
	}
	if c := console(t, run); !strings.Contains(c, "specs: 2 passed") {
		t.Errorf("console does not count the passed specs:\n%s", c)
	}
}

// The summary says what partial and success mean.
func TestSummaryExplainsResults(t *testing.T) {
	md := summary(t, FromGinkgo(nil, kongOnly()))
	for _, want := range []string{"partial: nothing failed, but some IDs were skipped or have no spec", "success: every selected ID"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

// A BeforeSuite that fails: the verdict is FAIL and the counts say why (never a bare "0 failed"),
// the suite's IDs say they did not run and why, with the whole reason, and the run keeps its
// start time and target.
func TestSuiteFailureIsCounted(t *testing.T) {
	gomegaErr := "Unexpected error:\n    <*fmt.wrapError | 0xc000123456>: \n    start kong: listen tcp 127.0.0.1:8000: bind: address already in use\n    {\n        msg: \"start kong: ...\",\n        err: <*net.OpError | 0xc0001>{Op: \"listen\"},\n    }\noccurred"
	start := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	rs := []types.Report{
		{SuitePath: "/src/suites/kong", SuiteDescription: "Kong profile", StartTime: start, SpecReports: types.SpecReports{
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed, Failure: types.Failure{Message: gomegaErr}},
			spec("K-MTLS-1: no certificate → 401", types.SpecStateSkipped, ""),
		}},
		{SuitePath: "/src/suites/alb", SuiteSucceeded: false, SpecialSuiteFailureReasons: []string{"Failed to compile alb:\n\nsuites/alb/x_test.go:1: syntax error"}},
	}
	run := FromGinkgo(rs, Options{Profiles: []catalog.Profile{catalog.Kong, catalog.ALB}, Target: "kong"})
	if run.OK() {
		t.Fatal("a run whose suites did not run passed the gate")
	}
	if !run.Start.Equal(start) {
		t.Errorf("start %s, want %s (a suite that never started has no start time)", run.Start, start)
	}
	if len(run.Targets) != 1 || run.Targets[0] != "kong" {
		t.Errorf("targets %v, want the target named in the options", run.Targets)
	}
	k := result(run, "K-MTLS-1")
	wantReason := "suite kong did not run: BeforeSuite failed: Unexpected error: start kong: listen tcp 127.0.0.1:8000: bind: address already in use occurred"
	if k.Outcome != NotRun || k.Reason != wantReason {
		t.Errorf("K-MTLS-1: %q %q, want %q %q", k.Outcome, k.Reason, NotRun, wantReason)
	}
	if a := result(run, "A-TS-1"); a.Outcome != NotRun || !strings.Contains(a.Reason, "suite alb did not run: Failed to compile alb: suites/alb/x_test.go:1: syntax error") {
		t.Errorf("A-TS-1: %q %q", a.Outcome, a.Reason)
	}
	if l := result(run, "L-1"); l.Outcome != NotSelected {
		t.Errorf("L-1: %q, want not selected", l.Outcome)
	}
	md := summary(t, run)
	for _, want := range []string{"verdict: **FAIL** (conformance: failure)", "; 2 suite failures", "- started: 2026-12-01 15:00:00 UTC", "- target: kong (version unknown)",
		"- suite failure: suite kong: BeforeSuite failed: Unexpected error: start kong: listen tcp 127.0.0.1:8000: bind: address already in use occurred"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if c := Conformance(run); c.Result != ResultFailure || c.Statistics.NotRun == 0 {
		t.Errorf("conformance %q %+v", c.Result, c.Statistics)
	}
	con := console(t, run)
	if n := strings.Count(con, "address already in use"); n != 1 {
		t.Errorf("the console gives the suite's reason %d times, want once:\n%s", n, con)
	}
	lines := strings.Split(strings.TrimSpace(con), "\n")
	last := strings.Join(lines[len(lines)-3:], "\n")
	for _, want := range []string{"K-ADM-1, K-ADM-2", wantReason, "suite alb did not run: Failed to compile alb"} {
		if !strings.Contains(last, want) {
			t.Errorf("the console's last lines lack %q:\n%s", want, last)
		}
	}
}

// A suite the Ginkgo report has nothing from (it crashed) has its IDs marked not run, not "not covered".
func TestMissingSuiteIsNotRun(t *testing.T) {
	run := FromGinkgo([]types.Report{{SuitePath: "/src/suites/alb", SuiteSucceeded: true, SpecReports: types.SpecReports{
		spec("A-TS-1: bundle rules", types.SpecStatePassed, ""),
	}}}, Options{})
	if k := result(run, "K-MTLS-1"); k.Outcome != NotRun || !strings.Contains(k.Reason, "suite kong did not run") {
		t.Errorf("K-MTLS-1: %q %q", k.Outcome, k.Reason)
	}
	if a := result(run, "A-TS-2"); a.Outcome != NotCovered {
		t.Errorf("A-TS-2 of a suite that ran: %q, want not covered", a.Outcome)
	}
}

// IDS=…: the others are not selected, never passed or failed, and do not change the verdict.
func TestNotSelected(t *testing.T) {
	run := FromGinkgo([]types.Report{{SuitePath: "/src/suites/kong", SuiteSucceeded: true, SpecReports: types.SpecReports{
		spec("K-MTLS-1: no certificate → 401", types.SpecStatePassed, ""),
		spec("K-MTLS-2: expired → 401", types.SpecStateSkipped, ""), // filtered out by the label filter
	}}}, Options{IDs: []catalog.ID{"K-MTLS-1", "A-POL-1"}, Profiles: []catalog.Profile{catalog.Kong, catalog.ALB}})
	c := run.Count()
	if c[Passed] != 1 || c[NotSelected] != len(run.Results)-2 || result(run, "K-MTLS-2").Outcome != NotSelected {
		t.Errorf("counts %v; K-MTLS-2 %q", c, result(run, "K-MTLS-2").Outcome)
	}
	if a := result(run, "A-POL-1"); a.Outcome != NotRun {
		t.Errorf("A-POL-1 was selected but its suite did not run: %q", a.Outcome)
	}
	md := summary(t, run)
	if !strings.Contains(md, fmt.Sprintf("## load profile\n\nNot selected for this run (%d IDs).", len(catalog.ByProfile(catalog.Load)))) || !strings.Contains(md, "| K-MTLS-2 | untrusted, expired, self-signed or revoked certificate → 401 | ⬜ not selected | – |  |") {
		t.Errorf("summary:\n%s", md)
	}
	ok := FromGinkgo([]types.Report{{SuitePath: "/src/suites/kong", SuiteSucceeded: true, SpecReports: types.SpecReports{
		spec("K-MTLS-1: no certificate → 401", types.SpecStatePassed, ""),
	}}}, Options{IDs: []catalog.ID{"K-MTLS-1"}})
	if !ok.OK() || Conformance(ok).Result != ResultSuccess {
		t.Errorf("a run of one passing ID: ok %v, result %q", ok.OK(), Conformance(ok).Result)
	}
}

// A green run's console is a few lines: target, one line per profile, verdict, reports.
func TestConsoleGreenRun(t *testing.T) {
	run := FromGinkgo([]types.Report{{SuitePath: "/src/suites/kong", SuiteSucceeded: true, StartTime: time.Unix(1, 0), SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed,
			ReportEntries: types.ReportEntries{{Name: record.TargetEntry, Value: types.WrapEntryValue("reference")}}},
		spec("K-MTLS-1: no certificate → 401", types.SpecStatePassed, ""),
	}}}, Options{IDs: []catalog.ID{"K-MTLS-1"}})
	got := console(t, run)
	// Every other ID of the catalogue is not selected: the Kong profile's others, and all the rest.
	kongOthers, allOthers := len(catalog.ByProfile(catalog.Kong))-1, len(catalog.All())-1
	want := fmt.Sprintf("mtlsgate conformance: target reference (version unknown)\n  kong  1 passed, 0 failed, %d not selected\n  alb   not selected\n  load  not selected\n", kongOthers) +
		fmt.Sprintf("verdict: PASS (conformance: success; IDs: 1 passed, 0 failed, %d not selected; specs: 1 passed, 0 failed)\n", allOthers) +
		"reports: out/summary.md (and junit.xml, conformance.yaml, conformance.json there)\n"
	if got != want {
		t.Errorf("console:\n%s\nwant:\n%s", got, want)
	}
}

// A red run's last lines name each failed ID with its one-line reason.
func TestConsoleRedRunEndsWithFailures(t *testing.T) {
	run := FromGinkgo([]types.Report{{SuitePath: "/src/suites/alb", SuiteSucceeded: false, SpecReports: types.SpecReports{
		spec("A-POL-1: TLS 1.3-only policies", types.SpecStateFailed, "ELBSecurityPolicy-TLS13-1-3-2021-06: the refused TLS 1.2 connection is logged too\nExpected\n    <string>: Success\nto equal\n    <string>: Failed:UnmappedConnectionError"),
		spec("A-TS-1: bundle", types.SpecStatePassed, ""),
	}}}, Options{Profiles: []catalog.Profile{catalog.ALB}})
	lines := strings.Split(strings.TrimSpace(console(t, run)), "\n")
	want := "  A-POL-1: 1 of 1 specs failed: ELBSecurityPolicy-TLS13-1-3-2021-06: the refused TLS 1.2 connection is logged too Expected Success to equal Failed:UnmappedConnectionError"
	if lines[len(lines)-1] != want || lines[len(lines)-2] != "failed:" {
		t.Errorf("last lines:\n%s\nwant the last to be:\n%s", strings.Join(lines, "\n"), want)
	}
}

func TestOneLine(t *testing.T) {
	long := strings.Repeat("é", 1200)
	for in, want := range map[string]string{
		"Expected\n    <int>: 200\nto equal\n    <int>: 401": "Expected 200 to equal 401",
		"plain reason":                  "plain reason",
		"not supported: no Admin API\n": "not supported: no Admin API",
		"Unexpected error:\n    <*errors.errorString | 0xc0000>: \n    boom\n    {s: \"boom\"}\noccurred": "Unexpected error: boom {s: \"boom\"} occurred",
		long: strings.Repeat("é", 1000) + "…",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// Generate is the report step in one call: it writes the files and the console summary.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "ginkgo.json")
	b, err := json.Marshal([]types.Report{{SuitePath: "/x/suites/kong", SuiteSucceeded: true,
		SpecReports: types.SpecReports{spec("K-MTLS-1: a", types.SpecStatePassed, "")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	run, err := Generate(js, filepath.Join(dir, "out"), Options{IDs: []catalog.ID{"K-MTLS-1"}}, &out)
	if err != nil || !run.OK() || !strings.Contains(out.String(), "verdict: PASS") {
		t.Fatalf("Generate: %v ok=%v\n%s", err, run.OK(), out.String())
	}
	for _, f := range []string{"summary.md", "junit.xml", "conformance.yaml", "conformance.json"} {
		if _, err := os.Stat(filepath.Join(dir, "out", f)); err != nil {
			t.Error(err)
		}
	}
}

// A run in which nothing passed (an external target whose configuration file is missing claims
// nothing) certifies nothing and fails the gate, saying so last.
func TestNothingCertifiedFails(t *testing.T) {
	why := `target external does not claim K-MTLS-1: read external target config MTLSGATE_EXTERNAL="x.yaml": no such file or directory`
	run := FromGinkgo([]types.Report{{SuitePath: "/src/suites/kong", SuiteSucceeded: true, SpecReports: types.SpecReports{
		notSupported("K-MTLS-1: no certificate → 401", why),
	}}}, Options{IDs: []catalog.ID{"K-MTLS-1"}})
	if run.OK() || Conformance(run).Result != ResultFailure {
		t.Fatalf("a run that certified nothing: ok %v, result %q", run.OK(), Conformance(run).Result)
	}
	lines := strings.Split(strings.TrimSpace(console(t, run)), "\n")
	if lines[len(lines)-1] != "  "+NothingCertified {
		t.Errorf("console:\n%s", strings.Join(lines, "\n"))
	}
	if md := summary(t, run); !strings.Contains(md, "verdict: **FAIL**") || !strings.Contains(md, NothingCertified) {
		t.Errorf("summary:\n%s", md)
	}
}
