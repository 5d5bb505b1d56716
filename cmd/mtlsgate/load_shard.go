package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/load/report"
	"github.com/mtlsgate/mtlsgate/load/scenario"
	"github.com/mtlsgate/mtlsgate/load/shard"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// shardFlags are the load flags of a distributed attack (L-5) and of attacking a gateway that is
// not on loopback.
type shardFlags struct {
	spec         *string
	startAt      *string
	resultStdout *bool
	allow        hostList
	revokeCRL    *string
	crlControl   *string
	revokeGrace  *time.Duration
}

func addShardFlags(fs *flag.FlagSet) *shardFlags {
	f := &shardFlags{
		spec: fs.String("shard", "", "run shard `i/n` of a distributed attack (i from 0): 1/n of the rate and of --max-requests, a disjoint slice of the population; "+
			"default from "+shard.IndexEnv+" (set by a Kubernetes Indexed Job) and "+shard.CountEnv),
		startAt:      fs.String("start-at", os.Getenv(shard.StartEnv), "shared wall-clock start (RFC 3339, e.g. 2026-12-01T16:00:00Z) so the shards' pacers line up; required with --shard (default $"+shard.StartEnv+")"),
		resultStdout: fs.Bool("result-stdout", false, "with --shard: also print the shard result to stdout, framed and checksummed, for kubectl logs to collect"),
		revokeCRL:    fs.String("revoke-crl", "", "with --url and --revoke-at: the CRL (PEM) revoking client-midrun, uploaded to --crl-control at --revoke-at"),
		crlControl:   fs.String("crl-control", "", "with --revoke-crl: the `URL` of the mtlsgate serve upstream --crl-dir responder the gateway fetches the CRL from (e.g. http://crl:8080)"),
		revokeGrace:  fs.Duration("revoke-grace", 5*time.Second, "with --url and --revoke-at: how long the old answer is tolerated after the upload (the gateway's cert_cache_ttl plus its CRL fetch timeout)"),
	}
	fs.Var(&f.allow, "allow-host", "also attack this `host` (repeatable; exact name): the simulator attacks only loopback unless told, e.g. the gateway's Service in a cluster")
	return f
}

// hostList is a repeatable flag.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" || strings.ContainsAny(v, "/: ") {
		return fmt.Errorf("%q: a host name or address, without scheme or port", v)
	}
	*h = append(*h, v)
	return nil
}

// shard resolves which shard this process runs: --shard, else the Indexed Job's environment.
func (f *shardFlags) shard() (shard.Shard, bool, error) {
	if *f.spec != "" {
		s, err := shard.Parse(*f.spec)
		return s, err == nil, err
	}
	return shard.FromEnv(os.Getenv)
}

// start parses the shared start.
func (f *shardFlags) start() (time.Time, error) {
	if *f.startAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *f.startAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start-at %q: want RFC 3339 such as 2026-12-01T16:00:00Z", *f.startAt)
	}
	return t, nil
}

// revocation is the mid-run revocation of a gateway the simulator does not control: the CRL
// revoking client-midrun is uploaded to the responder the gateway fetches its CRL from.
func (f *shardFlags) revocation(profile string, at time.Duration) (load.Event, error) {
	if *f.revokeCRL == "" || *f.crlControl == "" {
		return load.Event{}, errors.New("load: --revoke-at with --url needs --revoke-crl FILE and --crl-control URL (the responder your gateway fetches the CRL from); drop --url to use the embedded reference")
	}
	crl, err := os.ReadFile(*f.revokeCRL)
	if err != nil {
		return load.Event{}, fmt.Errorf("load: --revoke-crl: %w", err)
	}
	ctl := upstream.NewCRLControl(*f.crlControl)
	return scenario.MidRunRevocation(profile, at, *f.revokeGrace, func(ctx context.Context) error {
		return ctl.SetCRL(ctx, fixtures.RootCA, crl)
	}), nil
}

// runShard runs this process's shard of the attack and writes its result (gates are judged by
// `mtlsgate load merge` on the whole attack, not on one shard).
func runShard(ctx context.Context, plan load.Plan, s shard.Shard, f *shardFlags, out string, stdout io.Writer) error {
	if plan.StartAt.IsZero() && s.Count > 1 {
		return fmt.Errorf("load: --shard %s: give every shard the same --start-at (or %s), so their pacers line up", s, shard.StartEnv)
	}
	file, err := shard.Run(ctx, plan, s)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	res := file.Result
	path, err := file.WriteDir(out)
	if err != nil {
		return fmt.Errorf("load: shard %s: %w", s, err)
	}
	fmt.Fprintf(stdout, "load shard %s of attack %s: %d requests in %s (started %s late), %d violations; result written to %s\n",
		s, file.Hash, res.Requests, res.Elapsed.Round(time.Millisecond), file.StartLag.Round(time.Millisecond), res.Violations, path)
	if *f.resultStdout {
		return file.Frame(stdout)
	}
	return nil
}

// runLoadMerge merges shard results into one report with the gates judged on the totals.
func runLoadMerge(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load merge", stderr)
	thresholds := fs.String("thresholds", "", "YAML thresholds for the gates, judged on the merged totals (default: no violation, no valid request lost)")
	out := fs.String("out", filepath.Join(outDir, "load"), "directory for index.html, load.json and junit.xml")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mtlsgate load merge [flags] DIR|FILE…\n\nMerges every shard-*.json and *.log (kubectl logs of a shard) into one report.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	gates := load.DefaultThresholds()
	if *thresholds != "" {
		var err error
		if gates, err = load.ReadThresholds(*thresholds); err != nil {
			return fmt.Errorf("load merge: --thresholds: %w", err)
		}
	}
	files, names, err := shard.ReadAll(fs.Args())
	if err != nil {
		return fmt.Errorf("load %w", err)
	}
	res, err := shard.Merge(files, names)
	if err != nil {
		return fmt.Errorf("load %w", err)
	}
	results := gates.Evaluate(res)
	if err := report.WriteDir(*out, res, results); err != nil {
		return fmt.Errorf("load merge: %w", err)
	}
	fmt.Fprintf(stdout, "load merge of %d shards, attack %s: %d requests, %d violations, %.1f requests/s, %.1f handshakes/s, p99 %s\n",
		len(files), files[0].Hash, res.Requests, res.Violations, res.Rate, res.HandshakeRate, res.Total.Latencies.P99.Round(10*time.Microsecond))
	fmt.Fprint(stdout, shard.Report(files))
	for _, rv := range res.Revocations {
		fmt.Fprintf(stdout, "  %s at %s: enforced %t, last old answer %s after it was applied\n", rv.Name, rv.Applied.Round(time.Millisecond),
			rv.Enforced, rv.TimeToEnforce.Round(time.Millisecond))
	}
	failed := 0
	for _, g := range results {
		verdict := "pass"
		if !g.Pass {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Fprintf(stdout, "  gate %-40s %-4s actual %s, limit %s\n", g.Name, verdict, g.Actual, g.Limit)
	}
	fmt.Fprintf(stdout, "reports written to %s (%s, %s, %s)\n", *out, report.HTMLFile, report.JSONFile, report.JUnitFile)
	if failed > 0 {
		return errors.New("load merge: a gate failed on the merged totals (see " + filepath.Join(*out, report.HTMLFile) + ")")
	}
	return nil
}
