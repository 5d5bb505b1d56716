package shard_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/report"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/load/shard"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// jobEnv is what a Kubernetes Indexed Job gives shard i of n (JOB_COMPLETION_INDEX) and what
// deploy/kubernetes/job.yaml adds (MTLSGATE_SHARDS).
func jobEnv(i, n int) map[string]string {
	return map[string]string{shard.IndexEnv: strconv.Itoa(i), shard.CountEnv: strconv.Itoa(n)}
}

// TestIndexedJobContractInDocker runs the Job's contract on this machine: the reference gateway
// and its CRL responder in containers, and three simulator containers of the release image on a
// network of their own, each told only its JOB_COMPLETION_INDEX and the shard count, printing
// its result for the merge to collect from the log. The merged totals are the sum of the shards',
// the population split is disjoint, the mid-run revocation is measured in the one shard holding
// that client; then a gateway fault seen by one shard only fails the merged gate.
func TestIndexedJobContractInDocker(t *testing.T) {
	ctx := context.Background()
	eng, err := containers.Connect(ctx)
	if err != nil {
		t.Skipf("the Job's contract needs Docker: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	img, err := eng.MtlsgateImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := eng.NewNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Remove(context.Background()) })
	start := func(r containers.Request) *containers.Container {
		t.Helper()
		c, err := nw.Start(ctx, r)
		if c != nil {
			t.Cleanup(func() { _ = c.Terminate(context.Background()) })
		}
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkiFiles := func(extra ...containers.File) []containers.File {
		t.Helper()
		dir := t.TempDir()
		if err := pki.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		files, err := containers.DirFiles(dir, "/pki")
		if err != nil {
			t.Fatal(err)
		}
		return append(files, extra...)
	}
	echo := start(containers.Request{Image: img, Alias: "echo", Files: pkiFiles(), Ports: []string{"8080/tcp"},
		Cmd:  []string{"serve", "upstream", "--http", "0.0.0.0:8080", "--crl-dir", "/pki", "--name", "echo"},
		Wait: wait.ForHTTP("/anything").WithPort("8080/tcp")})
	gw := start(containers.Request{Image: img, Alias: "kong", Cmd: []string{"serve", "kong"},
		Env:   map[string]string{"KONG_PROXY_LISTEN": "0.0.0.0:8443 ssl", "KONG_ADMIN_LISTEN": "0.0.0.0:8001", "KONG_STATUS_LISTEN": "0.0.0.0:8100"},
		Ports: []string{"8443/tcp", "8001/tcp", "8100/tcp"}, Wait: wait.ForHTTP("/status/ready").WithPort("8100/tcp")})
	echoURL, err := echo.URL(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	adminURL, err := gw.URL(ctx, "8001/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, err := gw.URL(ctx, "8443/tcp", "https")
	if err != nil {
		t.Fatal(err)
	}
	// The system as the shards reach it (by alias on the network); the test drives it from here.
	ttl := 300 * time.Millisecond
	k, err := scenario.ConfigureKong(ctx, &harness.KongSystem{ProxyTLSURL: "https://kong:8443", AdminURL: adminURL,
		Admin: kongapi.New(adminURL, &http.Client{Timeout: 10 * time.Second}), EchoURL: "http://echo:8080", CRLBaseURL: "http://echo:8080",
		CRL: upstream.NewCRLControl(echoURL)}, pki, scenario.KongOptions{CertCacheTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	midrun, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-midrun", Issuer: fixtures.RootCA, Revoked: []string{fixtures.ClientRevoked, scenario.MidRunIdentity}})
	if err != nil {
		t.Fatal(err)
	}
	identities := pkiFiles(containers.File{Path: "/pki/revoke-midrun.pem", Content: midrun.PEM})

	const n = 3
	common := []string{"load", "--url", k.URL, "--allow-host", "kong", "--certs", "/pki", "--mode", "handshake", "--rate", "60", "--timeout", "30s", "--max-workers", "16",
		"--max-requests", "100000", "--result-stdout", "--out", "/results"}

	// 1. A clean attack with a revocation under load.
	grace := ttl + k.Opts.HTTPTimeout
	files := runJob(t, ctx, nw, img, identities, n, append(common, "--duration", "4s", "--revoke-at", "1500ms", "--revoke-crl", "/pki/revoke-midrun.pem",
		"--crl-control", "http://echo:8080", "--revoke-grace", grace.String()))
	merged, gates := mergeAndReport(t, files)
	var sum load.Result
	perClass := map[string]uint64{}
	holders := 0
	for _, f := range files {
		r := f.Result
		if r.Requests == 0 {
			t.Errorf("shard %s sent nothing", f.Shard)
		}
		sum.Requests += r.Requests
		sum.Violations += r.Violations
		sum.Handshakes += r.Handshakes
		for _, c := range r.Classes {
			perClass[c.Name] += c.Requests
			if c.Name == scenario.RevokedMidRun {
				holders++
				if len(r.Revocations) != 1 {
					t.Errorf("shard %s holds %s but measured %d revocations", f.Shard, c.Name, len(r.Revocations))
				}
			}
		}
		if len(r.Revocations) > 0 && !hasResultClass(r, scenario.RevokedMidRun) {
			t.Errorf("shard %s revoked a client it does not hold", f.Shard)
		}
	}
	if merged.Requests != sum.Requests || merged.Violations != sum.Violations || merged.Handshakes != sum.Handshakes {
		t.Errorf("merged %d requests, %d violations, %d handshakes; the shards sum to %d, %d, %d",
			merged.Requests, merged.Violations, merged.Handshakes, sum.Requests, sum.Violations, sum.Handshakes)
	}
	for _, c := range merged.Classes {
		if c.Requests != perClass[c.Name] {
			t.Errorf("class %s: merged %d requests, the shards sum to %d", c.Name, c.Requests, perClass[c.Name])
		}
	}
	if holders != 1 {
		t.Errorf("%s is in %d shards: the population split is not disjoint", scenario.RevokedMidRun, holders)
	}
	units := map[string]int{}
	for _, f := range files {
		for _, p := range f.Slice {
			units[p.Class] += p.Units
		}
	}
	for _, p := range files[0].Population {
		if units[p.Class] != p.Units {
			t.Errorf("class %s: the shards' slices hold %d of %d units", p.Class, units[p.Class], p.Units)
		}
	}
	if len(merged.Revocations) != 1 || !merged.Revocations[0].Enforced || merged.Revocations[0].NewAfter == 0 {
		t.Fatalf("the revocation under load, merged: %+v", merged.Revocations)
	}
	t.Logf("clean attack: %d shards, %d requests merged, %.1f requests/s, p99 %s; revocation enforced %t, time to enforce %s; start lags %s",
		n, merged.Requests, merged.Rate, merged.Total.Latencies.P99, merged.Revocations[0].Enforced, merged.Revocations[0].TimeToEnforce, lags(files))
	if !load.Passed(gates) {
		t.Errorf("the clean attack failed its merged gates: %+v\nviolations: %+v", gates, merged.ViolationSamples)
	}

	// 2. The gateway stops enforcing client-revoked's revocation: only the shard holding that
	// class sees it, and the merged gate fails.
	none, err := pki.NewCRL(fixtures.CRLRequest{Name: "crl-none", Issuer: fixtures.RootCA})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Sys.CRL.SetCRL(ctx, fixtures.RootCA, none.PEM); err != nil {
		t.Fatal(err)
	}
	waitForStatus(t, proxyURL+"/mtls", pki.Get(fixtures.ClientRevoked).TLSCertificate(), http.StatusOK)
	files = runJob(t, ctx, nw, img, identities, n, append(common, "--duration", "2s"))
	merged, gates = mergeAndReport(t, files)
	for _, f := range files {
		r := f.Result
		holds := hasResultClass(r, scenario.Revoked)
		if holds && (r.Violations == 0 || r.Violations != classOf(r, scenario.Revoked).Requests) {
			t.Errorf("shard %s holds the revoked class: %d violations in %d of its requests", f.Shard, r.Violations, classOf(r, scenario.Revoked).Requests)
		}
		if !holds && (r.Violations != 0 || !load.Passed(load.DefaultThresholds().Evaluate(r))) {
			t.Errorf("shard %s does not hold the revoked class, yet has %d violations", f.Shard, r.Violations)
		}
	}
	if load.Passed(gates) || gates[0].Name != "max_violations" || gates[0].Pass {
		t.Errorf("a violation in one shard did not fail the merged gate: %+v", gates)
	}
}

// runJob starts n simulator containers at once, each with its Job index, waits for all to exit,
// and reads each one's result from its log, as `kubectl logs` would.
func runJob(t *testing.T, ctx context.Context, nw *containers.Network, img string, files []containers.File, n int, args []string) []*shard.File {
	t.Helper()
	startAt := time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339Nano)
	dir := t.TempDir()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := nw.Start(ctx, containers.Request{Image: img, Alias: fmt.Sprintf("shard-%d", i), Files: files, Env: jobEnv(i, n),
				Cmd: append(append([]string{}, args...), "--start-at", startAt), Wait: wait.ForExit().WithExitTimeout(2 * time.Minute)})
			if c != nil {
				defer func() { _ = c.Terminate(context.Background()) }()
			}
			if err != nil {
				errs[i] = err
				return
			}
			out, err := c.Output(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			if code, err := c.ExitCode(ctx); err != nil || code != 0 {
				errs[i] = fmt.Errorf("shard %d exited %d (%v):\n%s", i, code, err, out)
				return
			}
			errs[i] = os.WriteFile(filepath.Join(dir, fmt.Sprintf("shard-%d.log", i)), out, 0o644)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, names, err := shard.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || len(names) != n {
		t.Fatalf("%d shard results from %d containers", len(got), n)
	}
	return got
}

// mergeAndReport merges the shard results and writes the merged reports, with the gates of
// load/thresholds.example.yaml's revocation bound.
func mergeAndReport(t *testing.T, files []*shard.File) (*load.Result, []load.Gate) {
	t.Helper()
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	merged, err := shard.Merge(files, names)
	if err != nil {
		t.Fatal(err)
	}
	th := load.DefaultThresholds()
	th.MaxTimeToEnforce = load.Duration(3 * time.Second)
	gates := th.Evaluate(merged)
	if err := report.WriteDir(t.TempDir(), merged, gates); err != nil {
		t.Fatal(err)
	}
	return merged, gates
}

func lags(files []*shard.File) string {
	var out []string
	for _, f := range files {
		out = append(out, f.Shard.String()+" "+f.StartLag.Round(time.Millisecond).String())
	}
	return strings.Join(out, ", ")
}

func hasResultClass(r *load.Result, name string) bool { return classOf(r, name).Name != "" }

func classOf(r *load.Result, name string) load.ClassResult {
	for _, c := range r.Classes {
		if c.Name == name {
			return c
		}
	}
	return load.ClassResult{}
}

// waitForStatus polls the gateway with a client certificate until it answers status: the
// gateway's CRL cache expiring is the event waited on.
func waitForStatus(t *testing.T, url string, cert tls.Certificate, status int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}}} //nolint:gosec // the gateway's own certificate is not under test
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := 0
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			last = resp.StatusCode
			_ = resp.Body.Close()
			if last == status {
				return
			}
		}
		<-tick.C
	}
	t.Fatalf("%s answered %d, not %d, for 30s", url, last, status)
}
