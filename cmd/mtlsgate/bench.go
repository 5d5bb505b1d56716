package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/bench"
)

// runBench is `mtlsgate bench`: the reference against nginx and HAProxy, side by side, written
// to out/bench.md.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "dial-loop" {
		return runDialLoop(ctx, args[1:], stdout, stderr)
	}
	d := bench.Defaults()
	fs := newFlagSet("bench", stderr)
	out := fs.String("out", outDir, "directory to write bench.md into")
	rounds := fs.Int("rounds", d.Rounds, "rounds; every server is measured once per round and the report quotes medians")
	duration := fs.Duration("duration", d.Duration, "length of each timed measurement")
	idle := fs.Int("idle-conns", d.IdleConns, "idle mTLS connections held open for the memory measurement (0 skips it)")
	only := fs.String("only", strings.Join(d.Servers, ","), "servers to measure, comma-separated: "+strings.Join(bench.AllServers(), ", "))
	concurrency := fs.Int("handshake-concurrency", d.HandshakeConcurrency, "connections handshaking at once")
	workers := fs.Uint64("workers", d.KeepAliveWorkers, "keep-alive connections (vegeta workers) for the peak request rate")
	simRate := fs.Int("sim-rate", d.SimRate, "requests/s of the simulator-vs-vegeta CPU comparison (0 skips it)")
	vegeta := fs.String("vegeta", "", "vegeta CLI to compare the simulator with (default: vegeta on PATH, else built from the module cache)")
	allowMissing := fs.Bool("allow-missing", false, "write the report and exit 0 even when a server or the vegeta baseline could not be measured (default: such a run fails)")
	work := fs.String("work", "", "keep the PKI, server configurations and logs in this directory (default: a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q (flags only; see mtlsgate bench -h)", fs.Arg(0))
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find the mtlsgate executable to run the servers with: %w", err)
	}
	var servers []string
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	opts := bench.Options{
		Binary: self, Vegeta: *vegeta, WorkDir: *work, Rounds: *rounds, Duration: *duration, IdleConns: *idle,
		Servers: servers, HandshakeConcurrency: *concurrency, KeepAliveWorkers: *workers, SimRate: *simRate,
		Progress: stderr,
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("bench: --%w", err)
	}
	res, runErr := bench.Run(ctx, opts)
	if res == nil {
		return fmt.Errorf("bench: %w", runErr)
	}
	// An interrupted run still writes what it measured; the report says how many rounds each
	// figure had.
	path, err := bench.Write(*out, res)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if runErr != nil {
		return fmt.Errorf("bench: %w (partial report written to %s)", runErr, path)
	}
	if missing := res.Missing(); len(missing) > 0 && !*allowMissing {
		return fmt.Errorf("bench: report written to %s, but it lacks a baseline:\n  %s\ninstall what is missing, leave the server out with --only, turn the simulator comparison off with --sim-rate 0, or pass --allow-missing", path, strings.Join(missing, "\n  "))
	}
	_, err = fmt.Fprintf(stdout, "bench: %d rounds in %s; report written to %s\n", *rounds, res.Elapsed.Round(1e9), path)
	return err
}

// runDialLoop is `mtlsgate bench dial-loop`: the bare crypto/tls handshake loop the bench runs as
// its own process, so its CPU can be read and set against the simulator's. It prints its counts
// as JSON.
func runDialLoop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench dial-loop", stderr)
	target := fs.String("url", "", "gateway URL on loopback (https://127.0.0.1:PORT/anything)")
	certFile := fs.String("cert", "", "client certificate (PEM)")
	keyFile := fs.String("key", "", "client key (PEM)")
	rate := fs.Int("rate", 100, "connections started per second")
	duration := fs.Duration("duration", 5*time.Second, "how long to start connections")
	maxConns := fs.Uint64("max", 1_000_000, "most connections in all")
	concurrency := fs.Int("concurrency", 256, "most connections in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || !loopbackHost(u.Hostname()) {
		return fmt.Errorf("bench dial-loop: --url %q must be an https URL on 127.0.0.1, ::1 or localhost (bench traffic stays on loopback)", *target)
	}
	if *rate <= 0 || *rate > 100_000 || *duration <= 0 || *duration > time.Hour || *concurrency <= 0 {
		return fmt.Errorf("bench dial-loop: --rate must be 1–100000, --duration up to 1h and --concurrency positive")
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("bench dial-loop: load --cert/--key: %w", err)
	}
	res, err := bench.DialLoop(ctx, bench.DialLoopOptions{URL: *target, Certificate: cert, Rate: *rate,
		Duration: *duration, Max: *maxConns, Concurrency: *concurrency})
	if err != nil {
		return fmt.Errorf("bench %w", err)
	}
	return json.NewEncoder(stdout).Encode(res)
}

// loopbackHost reports whether host names this machine's loopback interface.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
