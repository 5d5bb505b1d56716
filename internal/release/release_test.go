//go:build release

// The release proof (`make release-check`): it builds the linux release for this machine, runs
// the compiled suites from outside the checkout with nothing but bash, curl and openssl on PATH,
// and certifies a `mtlsgate serve kong` running on the host from the FROM-scratch image, exactly
// as the README's `docker run` does. Build-tagged: it compiles the three suites (minutes).
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/reports"
)

func TestRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	t.Chdir("../..") // the module root: the builds name ./cmd/mtlsgate and ./suites/...
	rel := filepath.Join(t.TempDir(), "mtlsgate_linux_"+runtime.GOARCH)
	start := time.Now()
	ginkgo, err := buildGinkgo(ctx, t.TempDir(), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if err := buildPlatform(ctx, ginkgo, rel, "linux", runtime.GOARCH, os.Stderr); err != nil {
		t.Fatal(err)
	}
	t.Logf("built linux/%s release in %s", runtime.GOARCH, time.Since(start).Round(time.Second))

	t.Run("outside the checkout without Go", func(t *testing.T) {
		work := t.TempDir()
		// PATH holds only the tools the suites call (the README replay, A-POL-1's s_client), so
		// neither go nor a checkout can be reached.
		bin := filepath.Join(work, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"bash", "curl", "openssl", "cut", "grep"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Fatalf("%s is needed by the suites (apt-get install -y %s): %v", tool, tool, err)
			}
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.CommandContext(ctx, filepath.Join(rel, "mtlsgate"), "conformance", "--out", "out")
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + bin, "HOME=" + work, "TMPDIR=" + work}
		began := time.Now()
		out, err := cmd.CombinedOutput()
		c, _ := counts(t, filepath.Join(work, "out"), catalog.Kong, catalog.ALB, catalog.Load)
		t.Logf("reference target, all profiles, outside the checkout: %s in %s", c, time.Since(began).Round(time.Second))
		if err != nil || c[reports.Passed] != len(catalog.All()) {
			t.Errorf("mtlsgate conformance outside the checkout: %v; passed %d of %d IDs: %s\n%s", err, c[reports.Passed], len(catalog.All()), c, tail(out))
		}
	})

	t.Run("image certifies an external serve kong", func(t *testing.T) {
		e, err := containers.Connect(ctx)
		if err != nil {
			t.Skipf("no Docker engine, so the image is not built or run: %v", err)
		}
		defer e.Close()
		docker, err := exec.LookPath("docker")
		if err != nil {
			t.Skip("the docker CLI is not on PATH: the proof runs the README's docker run command")
		}
		began := time.Now()
		ref, err := containers.BuildReleaseImage(ctx, e, rel, containers.ImageRepo, "release-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("built %s in %s", ref, time.Since(began).Round(time.Second))

		// The gateway on the host, and the reference in a container of the same image: both on
		// ephemeral loopback ports, both certified by the image as the README does it.
		listen := []string{"KONG_PROXY_LISTEN=127.0.0.1:0, 127.0.0.1:0 http2 ssl", "KONG_ADMIN_LISTEN=127.0.0.1:0", "KONG_STATUS_LISTEN=off"}
		host := exec.Command(filepath.Join(rel, "mtlsgate"), "serve", "kong")
		host.Env = listen
		name := fmt.Sprintf("mtlsgate-release-test-%d", os.Getpid())
		ctr := exec.Command(docker, "run", "--rm", "--name", name, "--network", "host",
			"-e", listen[0], "-e", listen[1], "-e", listen[2], ref, "serve", "kong")
		for _, g := range []struct {
			what string
			cmd  *exec.Cmd
			stop func()
		}{
			{"serve kong on the host", host, func() { _ = host.Process.Signal(os.Interrupt) }},
			{"serve kong in a container", ctr, func() { _ = exec.Command(docker, "rm", "-f", name).Run() }},
		} {
			t.Run(g.what, func(t *testing.T) {
				admin, proxy, proxyTLS := serveKong(t, g.cmd, g.stop)
				certify(t, ctx, docker, ref, g.what, admin, proxy, proxyTLS)
			})
		}
	})
}

// certify runs the README's docker run command against a gateway and checks the reports: every
// Kong spec runs but those that need mtlsgate to write kong.conf or start its own gateway (the
// README replay), which the report lists as not supported, and none fails.
func certify(t *testing.T, ctx context.Context, docker, ref, what, admin, proxy, proxyTLS string) {
	work := t.TempDir()
	conf := fmt.Sprintf("profile: kong\nversion: %s\nproxy_url: %s\nproxy_tls_url: %s\nadmin_url: %s\nallow_reset: true\n", what, proxy, proxyTLS, admin)
	if err := os.WriteFile(filepath.Join(work, "external.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Host networking, so the gateway reaches the mock upstreams the suite starts on loopback;
	// the caller's uid, so the reports are the caller's.
	began := time.Now()
	cmd := exec.CommandContext(ctx, docker, "run", "--rm", "--network", "host",
		"--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), "-v", work+":/work", "-w", "/work",
		ref, "conformance", "--target", "external", "--config", "external.yaml", "--profiles", "kong", "--out", "out")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("docker run %s conformance --target external: %v\n%s", ref, err, tail(out))
	}
	c, run := counts(t, filepath.Join(work, "out"), catalog.Kong)
	t.Logf("image against %s: %s in %s", what, c, time.Since(began).Round(time.Second))
	for _, r := range run.Results {
		if r.Outcome == reports.Failed || r.Outcome == reports.NotCovered {
			t.Errorf("%s is %s: %s", r.ID, r.Outcome, r.Reason)
		}
		if (r.ID == "K-MTLS-1" || r.ID == "K-MTLS-2") && r.Outcome != reports.Passed {
			t.Errorf("%s is %s, want passed", r.ID, r.Outcome)
		}
	}
	if c[reports.Passed] == 0 {
		t.Errorf("no Kong ID passed: %s\n%s", c, tail(out))
	}
}

// outcomeCounts counts IDs by outcome, printed in a fixed order.
type outcomeCounts map[reports.Outcome]int

func (c outcomeCounts) String() string {
	var parts []string
	for _, o := range []reports.Outcome{reports.Passed, reports.Failed, reports.Skipped, reports.NotSupported, reports.NotCovered} {
		parts = append(parts, fmt.Sprintf("%d %s", c[o], o))
	}
	return strings.Join(parts, ", ")
}

// counts reads a run's ginkgo.json and counts its IDs by outcome, as the reports do.
func counts(t *testing.T, dir string, profiles ...catalog.Profile) (outcomeCounts, reports.Run) {
	t.Helper()
	rs, err := reports.ReadGinkgoJSON(filepath.Join(dir, "ginkgo.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"junit.xml", "summary.md", "conformance.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the run wrote no %s: %v", f, err)
		}
	}
	for _, r := range rs {
		for _, sp := range r.SpecReports {
			if sp.Failed() {
				t.Logf("failed: %s\n%s\n%s", sp.FullText(), sp.Failure.Location, sp.Failure.Message)
			}
		}
	}
	run := reports.FromGinkgo(rs, reports.Options{Profiles: profiles})
	for _, r := range run.Results {
		if r.Outcome != reports.Passed {
			t.Logf("%s: %s: %s", r.ID, r.Outcome, r.Reason)
		}
	}
	return outcomeCounts(run.Count()), run
}

// serveKong starts a `mtlsgate serve kong` listening on ephemeral loopback ports and returns its
// admin, proxy and TLS proxy URLs once it printed them (it prints them once listening).
func serveKong(t *testing.T, cmd *exec.Cmd, stop func()) (admin, proxy, proxyTLS string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	t.Cleanup(func() {
		stop()
		_ = cmd.Wait()
	})
	urls := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(urls) < 3 && sc.Scan() {
		f := strings.Fields(sc.Text()) // "kong proxy (TLS)  https://127.0.0.1:1234"
		if len(f) >= 3 && f[0] == "kong" {
			urls[strings.Join(f[1:len(f)-1], " ")] = f[len(f)-1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	for _, k := range []string{"admin", "proxy", "proxy (TLS)"} {
		if urls[k] == "" {
			t.Fatalf("%s printed no %s URL (got %v)\n%s", cmd, k, urls, stderr.String())
		}
	}
	return urls["admin"], urls["proxy"], urls["proxy (TLS)"]
}

// tail is the end of a command's output, for failure messages.
func tail(b []byte) string {
	const max = 6000
	if len(b) > max {
		return "…" + string(b[len(b)-max:])
	}
	return string(b)
}
