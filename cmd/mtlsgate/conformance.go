package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reports"
)

// suitesDirName is the directory next to the mtlsgate binary that holds the compiled suites, one
// "<profile>.test" per profile (`ginkgo build` output), as `make release` and the image lay them out.
const suitesDirName = "suites"

// suiteStopGrace is how long a suite gets, once interrupted, to run its cleanups and write its
// report before it is killed.
const suiteStopGrace = 30 * time.Second

// conformanceRun is what one `mtlsgate conformance` invocation asked for.
type conformanceRun struct {
	target   string
	config   string
	suites   string
	out      string
	profiles []catalog.Profile
	ids      []catalog.ID
	// labelFilter is the Ginkgo label filter of the selection, as make conformance builds it.
	labelFilter string
}

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conformance", stderr)
	target := fs.String("target", "reference", "the gateway to certify: "+strings.Join(harness.Names(), ", "))
	config := fs.String("config", "", "the external target's YAML `file` (README: Certify your own gateway); --target external needs it or the MTLSGATE_EXTERNAL_* variables")
	profiles := fs.String("profiles", reports.AllProfiles, "the profiles whose suites run and whose every SPEC ID the reports list (comma-separated: kong, alb, load)")
	ids := fs.String("ids", "", "run only these SPEC IDs (comma-separated, e.g. K-MTLS-1,A-POL-1); default all")
	suites := fs.String("suites", "", "the `directory` of the compiled suites (kong.test, alb.test, load.test); default: "+suitesDirName+"/ next to this binary")
	out := fs.String("out", outDir, "the `directory` for ginkgo.json, junit.xml, summary.md and conformance.{json,yaml}")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("conformance: unexpected argument %q (all options are flags: see mtlsgate conformance -h)", fs.Arg(0))
	}
	r, err := newConformanceRun(*target, *config, *suites, *out, *profiles, *ids)
	if err != nil {
		return err
	}
	return r.run(ctx, stdout, stderr)
}

// newConformanceRun checks the flags and finds the compiled suites, changing nothing.
func newConformanceRun(target, config, suites, out, profiles, ids string) (*conformanceRun, error) {
	r := &conformanceRun{target: target, out: out}
	if _, err := harness.Select(target); err != nil {
		return nil, fmt.Errorf("--target: %w", err)
	}
	if config != "" {
		abs, err := filepath.Abs(config)
		if err != nil {
			return nil, fmt.Errorf("--config %q: %w", config, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		r.config = abs
	}
	if target != "external" && r.config != "" {
		return nil, fmt.Errorf("--config describes an external gateway; use it with --target external, not %q", target)
	}
	if target == "external" {
		// The suites read the same file and MTLSGATE_EXTERNAL_* overrides; check them before
		// anything runs, with the suites' own messages.
		if _, err := harness.LoadExternalConfig(func(k string) string {
			if k == harness.ExternalConfigEnv && r.config != "" {
				return r.config
			}
			return os.Getenv(k)
		}); err != nil {
			return nil, fmt.Errorf("--config: %w (pass --config FILE; README: Certify your own gateway)", err)
		}
	}
	sel, err := reports.Select(profiles, ids)
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	for _, p := range sel.Profiles {
		if !slices.Contains(r.profiles, p) {
			r.profiles = append(r.profiles, p)
		}
	}
	if len(r.profiles) == 0 {
		return nil, errors.New("--profiles: name at least one of kong, alb, load")
	}
	for _, id := range sel.IDs {
		if p := catalog.MustLookup(id).Profile; !slices.Contains(r.profiles, p) {
			return nil, fmt.Errorf("--ids: %s belongs to profile %s, which --profiles does not select", id, p)
		}
	}
	r.ids, r.labelFilter = sel.IDs, sel.LabelFilter()
	if suites == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the compiled suites next to mtlsgate: %w (pass --suites DIR)", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return nil, fmt.Errorf("find the compiled suites next to mtlsgate: %w (pass --suites DIR)", err)
		}
		suites = filepath.Join(filepath.Dir(exe), suitesDirName)
	}
	r.suites = suites
	for _, p := range r.profiles {
		if _, err := os.Stat(r.suiteBinary(p)); err != nil {
			return nil, fmt.Errorf("--suites: no compiled %s suite: %w (a release carries them in %s/ next to mtlsgate; build them with `make release`, or run `make conformance` in a checkout)", p, err, suitesDirName)
		}
	}
	return r, nil
}

func (r *conformanceRun) suiteBinary(p catalog.Profile) string {
	return filepath.Join(r.suites, string(p)+".test")
}

// selected reports whether a profile's suite has anything to run: with --ids, only the suites of
// the IDs named do.
func (r *conformanceRun) selected(p catalog.Profile) bool {
	if len(r.ids) == 0 {
		return true
	}
	return slices.ContainsFunc(r.ids, func(id catalog.ID) bool { return catalog.MustLookup(id).Profile == p })
}

// run runs every selected suite, each to its end even when another failed, then writes the
// reports from their merged Ginkgo JSON exactly as `mtlsgate report` does.
func (r *conformanceRun) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("create the reports directory --out %q: %w", r.out, err)
	}
	// The suites run side by side (their specs mostly wait on the network and on timeouts); each
	// one's console is held back and printed whole when it ends, so the lines of two suites never
	// mix, and the reports are merged in profile order.
	type result struct {
		rs  []types.Report
		err error
	}
	results := make([]result, len(r.profiles))
	var consoleMu sync.Mutex
	var wg sync.WaitGroup
	for i, p := range r.profiles {
		if !r.selected(p) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var console bytes.Buffer
			rs, err := r.runSuite(ctx, p, &console, &console, isTerminal(stdout))
			results[i] = result{rs, err}
			consoleMu.Lock()
			defer consoleMu.Unlock()
			_, _ = stdout.Write(console.Bytes())
		}()
	}
	wg.Wait()
	var all []types.Report
	var suiteErrs []error
	for _, res := range results {
		all = append(all, res.rs...)
		if res.err != nil {
			suiteErrs = append(suiteErrs, res.err)
		}
	}
	merged := filepath.Join(r.out, "ginkgo.json")
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("merge the suites' Ginkgo reports: %w", err)
	}
	if err := os.WriteFile(merged, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", merged, err)
	}
	var profiles []string
	for _, p := range r.profiles {
		profiles = append(profiles, string(p))
	}
	var ids []string
	for _, id := range r.ids {
		ids = append(ids, string(id))
	}
	reportErr := runReport(ctx, []string{"--ginkgo-json", merged, "--out", r.out, "--profiles", strings.Join(profiles, ","),
		"--ids", strings.Join(ids, ","), "--target", r.target}, stdout, stderr)
	return errors.Join(append(suiteErrs, reportErr)...)
}

// runSuite runs one compiled suite with Ginkgo's own flags and returns the reports it wrote. A
// suite whose specs fail exits 1 and still writes its report; only a suite that wrote none is an
// error here (its specs' failures reach the verdict through the report).
func (r *conformanceRun) runSuite(ctx context.Context, p catalog.Profile, stdout, stderr io.Writer, color bool) ([]types.Report, error) {
	report := filepath.Join(r.out, "ginkgo-"+string(p)+".json")
	if err := os.Remove(report); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s suite: remove the previous report: %w", p, err)
	}
	abs, err := filepath.Abs(report)
	if err != nil {
		return nil, fmt.Errorf("%s suite: %w", p, err)
	}
	args := []string{"--ginkgo.json-report=" + abs}
	if !color {
		args = append(args, "--ginkgo.no-color") // CI logs and files get no escape codes
	}
	if r.labelFilter != "" {
		args = append(args, "--ginkgo.label-filter="+r.labelFilter)
	}
	cmd := exec.CommandContext(ctx, r.suiteBinary(p), args...)
	cmd.Env = append(os.Environ(), harness.TargetEnv+"="+r.target)
	if r.config != "" {
		cmd.Env = append(cmd.Env, harness.ExternalConfigEnv+"="+r.config)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Interrupted, a suite runs its cleanups (containers, servers) and writes its report.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = suiteStopGrace
	runErr := cmd.Run()
	rs, readErr := reports.ReadGinkgoJSON(abs)
	if readErr != nil {
		return nil, fmt.Errorf("%s suite (%s) wrote no report: %w", p, r.suiteBinary(p), errors.Join(runErr, readErr))
	}
	// A compiled suite reports the directory it ran in as its path; the reports name a suite's
	// profile by its path, so say which suite this was.
	for i := range rs {
		rs[i].SuitePath = filepath.Join(r.suites, string(p))
	}
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return rs, fmt.Errorf("%s suite (%s): %w", p, r.suiteBinary(p), runErr)
	}
	return rs, nil
}
