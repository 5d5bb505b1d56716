package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/report"
	"github.com/mtlsgate/mtlsgate/load/scenario"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "merge" {
		return runLoadMerge(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("load", stderr)
	target := fs.String("url", "", "attack this running gateway (loopback only, e.g. https://127.0.0.1:8443/mtls) instead of the embedded reference; needs --certs")
	certs := fs.String("certs", "", "with --url: the `directory` mtlsgate pki --out wrote, holding the identities (client.crt, client.key, …)")
	caFile := fs.String("ca", "", "with --url: verify the gateway's certificate with this CA bundle (default: not verified, like curl -k)")
	serverName := fs.String("server-name", "", "SNI to send (default: the URL's host)")
	profile := fs.String("profile", scenario.ProfileKong, "whose promises the population is checked against: kong (status and body) or alb (handshake failures)")
	population := fs.String("population", "", "class weights, e.g. valid=60,missing=8,untrusted=8,expired=8,self-signed=6,revoked=6,tls12=4 (classes: "+
		strings.Join(scenario.ClassNames(), ", ")+"; unnamed classes keep their default, 0 leaves one out)")
	mode := fs.String("mode", string(load.KeepAlive), "connections: keepalive, handshake (a new full handshake per request) or resume (new connection, resumed session)")
	http2 := fs.Bool("http2", false, "speak HTTP/2 only, negotiated by ALPN (a gateway that does not offer h2 fails every request)")
	pacer := fs.String("pacer", string(load.Constant), "rate shape: constant, linear or sine")
	rate := fs.Float64("rate", 100, "requests per second (the linear ramp's start, the sine's mean)")
	slope := fs.Float64("slope", 10, "linear pacer: requests per second added each second")
	period := fs.Duration("period", 10*time.Second, "sine pacer: period")
	amplitude := fs.Float64("amplitude", 50, "sine pacer: amplitude in requests per second (below --rate)")
	duration := fs.Duration("duration", 10*time.Second, "how long the attack lasts (at most 1h)")
	maxRequests := fs.Uint64("max-requests", 100000, "stop after this many requests")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	maxWorkers := fs.Uint64("max-workers", 256, "most concurrent requests in flight")
	revokeAt := fs.Duration("revoke-at", 0, "embedded reference only: revoke client-midrun this long into the run (L-3); adds the revoked-midrun class")
	cacheTTL := fs.Duration("cert-cache-ttl", 500*time.Millisecond, "embedded reference only: mtls-auth cert_cache_ttl, which bounds how late a revocation is enforced")
	thresholds := fs.String("thresholds", "", "YAML thresholds for the gates (max_violations, p99, max_error_rate, min_rate, max_time_to_enforce, max_valid_lost); default: no violation, no valid request lost")
	out := fs.String("out", filepath.Join(outDir, "load"), "directory for index.html, load.json and junit.xml")
	sf := addShardFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q (flags only; see mtlsgate load -h)", fs.Arg(0))
	}
	weights, err := scenario.ParseWeights(*population)
	if err != nil {
		return fmt.Errorf("load: --population: %w", err)
	}
	gates := load.DefaultThresholds()
	if *thresholds != "" {
		if gates, err = load.ReadThresholds(*thresholds); err != nil {
			return fmt.Errorf("load: --thresholds: %w", err)
		}
	}
	plan := load.Plan{
		Profile: *profile, Mode: load.Mode(*mode), Duration: *duration, MaxRequests: *maxRequests, Timeout: *timeout,
		MaxWorkers: *maxWorkers, ServerName: *serverName, HTTP2: *http2,
		Pacer: load.Pacer{Kind: load.PacerKind(*pacer), Rate: *rate, Slope: *slope, Period: *period, Amplitude: *amplitude},
	}

	if plan.StartAt, err = sf.start(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	sh, sharded, err := sf.shard()
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if *target != "" {
		if *revokeAt > 0 {
			ev, err := sf.revocation(*profile, *revokeAt)
			if err != nil {
				return err
			}
			if _, ok := weights[scenario.RevokedMidRun]; !ok {
				weights[scenario.RevokedMidRun] = 10
			}
			plan.Events = []load.Event{ev}
		}
		if *certs == "" {
			return errors.New("load: --url needs --certs DIR, the identities to present (mtlsgate pki --out DIR writes them)")
		}
		u, err := url.Parse(*target)
		if err != nil || u.Host == "" {
			return fmt.Errorf("load: --url %q: want a URL such as https://127.0.0.1:8443/mtls", *target)
		}
		if err := load.CheckHost(u.Hostname(), sf.allow); err != nil {
			return fmt.Errorf("load: --url: %w", err)
		}
		plan.AllowHosts = sf.allow
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return fmt.Errorf("load: --ca: %w", err)
			}
			plan.RootCAs = x509.NewCertPool()
			if !plan.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("load: --ca %q holds no PEM certificate", *caFile)
			}
		}
		plan.Target = *target
		if plan.Classes, err = scenario.Population(*profile, weights, scenario.FromDir(*certs)); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	} else {
		if sharded {
			return fmt.Errorf("load: --shard %s needs --url: the shards of one attack attack one gateway, not an embedded reference each", sh)
		}
		if *profile != scenario.ProfileKong {
			return fmt.Errorf("load: --profile %s: the embedded reference runs the kong profile; attack an ALB with --url", *profile)
		}
		if *certs != "" || *caFile != "" {
			return errors.New("load: --certs and --ca go with --url; the embedded reference makes its own PKI")
		}
		pki, err := fixtures.Generate(ctx, fixtures.Options{})
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		k, err := scenario.StartKong(ctx, harness.Reference(), pki, scenario.KongOptions{CertCacheTTL: *cacheTTL})
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer func() { _ = k.Sys.Stop(context.Background()) }()
		if *revokeAt > 0 {
			if _, ok := weights[scenario.RevokedMidRun]; !ok {
				weights[scenario.RevokedMidRun] = 10
			}
			plan.Events = []load.Event{k.RevokeMidRun(*revokeAt)}
		}
		plan.Target = k.URL
		if plan.Classes, err = k.Population(weights); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}

	if sharded {
		return runShard(ctx, plan, sh, sf, *out, stdout)
	}
	progress := newProgress(stdout, stderr, *duration)
	plan.Progress = progress.show
	res, runErr := load.Run(ctx, plan)
	progress.done()
	if res == nil {
		return fmt.Errorf("load: %w", runErr)
	}
	results := gates.Evaluate(res)
	if err := report.WriteDir(*out, res, results); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if runErr != nil { // interrupted: the partial run is reported, and the command still fails
		fmt.Fprintf(stdout, "reports of the partial run written to %s\n", *out)
		return fmt.Errorf("load: %w", runErr)
	}
	writeLoadSummary(stdout, res, results, *out)
	if !load.Passed(results) {
		return errors.New("load: a gate failed (see " + filepath.Join(*out, report.HTMLFile) + ")")
	}
	return nil
}

// writeLoadSummary prints what a run did: the headline, each class's outcomes, why requests
// were violations (the error a refused connection got, not just a count), the revocations and
// the gates.
func writeLoadSummary(w io.Writer, res *load.Result, gates []load.Gate, out string) {
	fmt.Fprintf(w, "load %s: %d requests in %s, %d violations, %.1f requests/s, %.1f handshakes/s (%d resumed), p99 %s\n",
		res.Target, res.Requests, res.Elapsed.Round(time.Millisecond), res.Violations, res.Rate, res.HandshakeRate, res.Resumed,
		res.Total.Latencies.P99.Round(10*time.Microsecond))
	for _, c := range res.Classes {
		var seen []string
		for _, label := range slices.Sorted(maps.Keys(c.Observed)) {
			seen = append(seen, fmt.Sprintf("%s×%d", label, c.Observed[label]))
		}
		fmt.Fprintf(w, "  class %-16s %6d requests, expected %s, %d violations; observed %s\n", c.Name, c.Requests, c.Expect, c.Violations, strings.Join(seen, ", "))
	}
	// Violations with the same class, outcome and error are one line with a count.
	type cause struct{ class, expected, observed, err string }
	var causes []cause
	count := map[cause]int{}
	for _, v := range res.ViolationSamples {
		c := cause{v.Class, v.Expected, v.Observed, v.Error}
		if count[c] == 0 {
			causes = append(causes, c)
		}
		count[c]++
	}
	for _, c := range causes {
		why := ""
		if c.err != "" {
			why = ": " + c.err
		}
		fmt.Fprintf(w, "  violation %s (%d sampled): expected %s, observed %s%s\n", c.class, count[c], c.expected, c.observed, why)
	}
	for _, rv := range res.Revocations {
		fmt.Fprintf(w, "  %s at %s: enforced %t, last old answer %s after it was applied\n", rv.Name, rv.Applied.Round(time.Millisecond),
			rv.Enforced, rv.TimeToEnforce.Round(time.Millisecond))
	}
	for _, g := range gates {
		verdict := "pass"
		if !g.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  gate %-40s %-4s actual %s, limit %s\n", g.Name, verdict, g.Actual, g.Limit)
	}
	fmt.Fprintf(w, "reports written to %s (%s, %s, %s)\n", out, report.HTMLFile, report.JSONFile, report.JUnitFile)
}

// isTerminal reports whether w is a character device (a terminal), where a progress line that
// rewrites itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows a run's progress: on a terminal one line rewritten about once a second; off
// one (CI logs) a plain line every progressEvery, so a long run is never silent.
type progress struct {
	w        io.Writer
	total    time.Duration
	terminal bool
	shown    bool
	last     time.Duration
}

// progressEvery is how often progress is printed when the output is not a terminal.
const progressEvery = 5 * time.Second

// newProgress shows progress on stderr when it is a terminal (and not CI), else on stdout.
func newProgress(stdout, stderr io.Writer, total time.Duration) *progress {
	if isTerminal(stderr) && os.Getenv("CI") != "true" {
		return &progress{w: stderr, total: total, terminal: true}
	}
	return &progress{w: stdout, total: total}
}

func (p *progress) show(s load.Progress) {
	line := fmt.Sprintf("  %5.1fs / %s  %8d requests  %6d violations  %8d handshakes", s.Elapsed.Seconds(), p.total, s.Requests, s.Violations, s.Handshakes)
	if p.terminal {
		p.shown = true
		fmt.Fprintf(p.w, "\r%s ", line)
		return
	}
	if s.Elapsed-p.last >= progressEvery || !p.shown {
		p.shown, p.last = true, s.Elapsed
		fmt.Fprintln(p.w, line)
	}
}

// done ends a terminal's progress line.
func (p *progress) done() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}
