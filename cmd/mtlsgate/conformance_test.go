package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/reports"
)

func TestConformanceRejectsBadFlags(t *testing.T) {
	suites := t.TempDir()
	for _, p := range []string{"kong", "alb", "load"} {
		if err := os.WriteFile(filepath.Join(suites, p+".test"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(config, []byte(validExternal), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"MTLSGATE_EXTERNAL", "MTLSGATE_EXTERNAL_PROXY_URL", "MTLSGATE_EXTERNAL_PROXY_TLS_URL", "MTLSGATE_EXTERNAL_ADMIN_URL"} {
		t.Setenv(k, "")
	}
	noReset := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(noReset, []byte("proxy_tls_url: https://127.0.0.1:8443\nadmin_url: http://127.0.0.1:8001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"admin_url is set but allow_reset is not":                   {"--target", "external", "--config", noReset},
		`--target: unknown target "kongg"`:                          {"--target", "kongg"},
		`--profiles: unknown profile "kon"`:                         {"--profiles", "kon"},
		`--profiles: name at least one`:                             {"--profiles", ","},
		`--ids: unknown SPEC ID "K-MTLS-99"`:                        {"--ids", "K-MTLS-99"},
		`--ids: A-POL-1 belongs to profile alb`:                     {"--profiles", "kong", "--ids", "A-POL-1"},
		`external target: proxy_tls_url is required`:                {"--target", "external"},
		`--config describes an external gateway`:                    {"--config", config},
		`--config: stat`:                                            {"--target", "external", "--config", config + ".missing"},
		`unexpected argument "kong"`:                                {"kong"},
		"--suites: no compiled kong suite":                          {"--suites", t.TempDir()},
		"build them with `make release`, or run `make conformance`": {"--suites", t.TempDir()},
	}
	for want, args := range cases {
		out := t.TempDir()
		var buf bytes.Buffer
		err := run(context.Background(), append([]string{"conformance", "--suites", suites, "--out", out}, args...), &buf, &buf)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("conformance %q: got error %v, want one containing %q", args, err, want)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("conformance %q wrote %d files into --out; bad flags must change nothing", args, len(entries))
		}
	}
}

// TestConformanceRunsACompiledSuite compiles a stand-in Ginkgo suite (testdata/kongsuite) and runs
// it through the command: the suite sees the target and the config, --ids becomes its label
// filter, and the reports are those `mtlsgate report` writes.
func TestConformanceRunsACompiledSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a Ginkgo suite; skipped with -short")
	}
	suites := t.TempDir()
	build := exec.Command("go", "test", "-c", "-o", filepath.Join(suites, "kong.test"), "./testdata/kongsuite")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("compile the stand-in suite: %v\n%s", err, out)
	}
	config := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(config, []byte(validExternal), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(mustGetwd(t), config)
	if err != nil {
		t.Fatal(err)
	}
	conformance := func(t *testing.T, args ...string) (string, map[string]reports.Outcome, error) {
		out := t.TempDir()
		var buf bytes.Buffer
		err := run(context.Background(), append([]string{"conformance", "--suites", suites, "--out", out,
			"--target", "external", "--config", rel, "--profiles", "kong"}, args...), &buf, &buf)
		rs, rerr := reports.ReadGinkgoJSON(filepath.Join(out, "ginkgo.json"))
		if rerr != nil {
			t.Fatalf("read the merged ginkgo.json: %v\n%s", rerr, buf.String())
		}
		outcomes := map[string]reports.Outcome{}
		for _, r := range reports.FromGinkgo(rs, reports.Options{Profiles: []catalog.Profile{catalog.Kong}}).Results {
			outcomes[string(r.ID)] = r.Outcome
		}
		for _, f := range []string{"junit.xml", "summary.md"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("the run wrote no %s: %v", f, err)
			}
		}
		return buf.String(), outcomes, err
	}

	t.Run("green", func(t *testing.T) {
		out, got, err := conformance(t)
		if got["K-MTLS-1"] != reports.Passed || got["K-MTLS-2"] != reports.Passed {
			t.Errorf("outcomes %v, want K-MTLS-1 and K-MTLS-2 passed\n%s", got, out)
		}
		if err != nil {
			t.Errorf("a green run returned %v\n%s", err, out)
		}
	})
	t.Run("red", func(t *testing.T) {
		t.Setenv("KONGSUITE_FAIL", "1")
		out, got, err := conformance(t)
		if got["K-MTLS-2"] != reports.Failed {
			t.Errorf("K-MTLS-2 is %q, want failed\n%s", got["K-MTLS-2"], out)
		}
		if err == nil {
			t.Error("a run with a failed spec returned no error")
		}
	})
	t.Run("ids", func(t *testing.T) {
		t.Setenv("KONGSUITE_FAIL", "1")
		out, got, _ := conformance(t, "--ids", "K-MTLS-1")
		if got["K-MTLS-1"] != reports.Passed {
			t.Errorf("K-MTLS-1 is %q, want passed\n%s", got["K-MTLS-1"], out)
		}
		if got["K-MTLS-2"] == reports.Failed || got["K-MTLS-2"] == reports.Passed {
			t.Errorf("K-MTLS-2 is %q though --ids named only K-MTLS-1\n%s", got["K-MTLS-2"], out)
		}
	})
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// validExternal is an external target configuration the command accepts; nothing is dialled.
const validExternal = "proxy_tls_url: https://127.0.0.1:8443\nadmin_url: http://127.0.0.1:8001\nallow_reset: true\n"
