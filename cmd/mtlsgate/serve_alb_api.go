package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/serve"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/alb/elbv2api"
)

// albAPIFlags are the flags of `serve alb` for its AWS endpoint (ELBv2, S3, ACM).
type albAPIFlags struct {
	addr, state, region, listenerAddr *string
	verify, public                    *bool
	connLogEvery                      *time.Duration
}

func addALBAPIFlags(fs *flag.FlagSet) *albAPIFlags {
	return &albAPIFlags{
		addr: fs.String("api", "", "serve the AWS endpoint (ELBv2 Query API, S3 objects, ACM certificates) on this address, e.g. 127.0.0.1:4566; "+
			"use it with aws --endpoint-url http://127.0.0.1:4566. Without --config, the API alone configures the emulator"),
		state:        fs.String("state", "", "keep what the API creates in this directory (written atomically, loaded at start); empty keeps it in memory"),
		region:       fs.String("region", "us-east-1", "the region in the ARNs the API hands out"),
		listenerAddr: fs.String("api-listener-address", "127.0.0.1", "the address listeners created through the API bind, on the port each names"),
		verify: fs.Bool("api-verify-sigv4", false, "verify each API request's SigV4 signature against AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "+
			"of this process's environment (by default any credentials are accepted, as local emulators do)"),
		public: fs.Bool("api-allow-remote", false, "allow --api on a non-loopback address: whoever reaches the endpoint decides what the ALB trusts"),
		connLogEvery: fs.Duration("api-connection-log-interval", elbv2api.DefaultConnectionLogInterval,
			"how often load balancers with connection_logs.s3.enabled write their connection log to the endpoint's S3 (ALB's 5m by default; e.g. 1s while developing)"),
	}
}

// enabled reports whether --api was given.
func (f *albAPIFlags) enabled() bool { return *f.addr != "" }

// start runs the endpoint; the caller closes both servers.
func (f *albAPIFlags) start(ctx context.Context, opts alb.Options, log *slog.Logger, stdout io.Writer) (*elbv2api.Server, *serve.Server, error) {
	host, _, err := net.SplitHostPort(*f.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--api %q: %w (give host:port, e.g. 127.0.0.1:4566)", *f.addr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && !*f.public {
		return nil, nil, fmt.Errorf("--api %q is not a loopback address; whoever reaches the endpoint decides what the ALB trusts, so add --api-allow-remote (and --api-verify-sigv4) to mean it", *f.addr)
	}
	if *f.connLogEvery <= 0 {
		return nil, nil, fmt.Errorf("--api-connection-log-interval %s: give a positive duration, e.g. 5m or 1s", *f.connLogEvery)
	}
	apiOpts := elbv2api.Options{Region: *f.region, StateDir: *f.state, ListenerAddress: *f.listenerAddr, ALB: opts, Log: log,
		ConnectionLogInterval: *f.connLogEvery}
	if *f.verify {
		id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return nil, nil, errors.New("--api-verify-sigv4: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the key pair requests must be signed with")
		}
		apiOpts.Credentials = &elbv2api.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	}
	api, err := elbv2api.New(ctx, apiOpts)
	if err != nil {
		return nil, nil, err
	}
	srv, err := serve.Listen(ctx, *f.addr, api, serve.Options{ErrorLog: log})
	if err != nil {
		_ = api.Close(context.Background())
		return nil, nil, fmt.Errorf("--api: %w", err)
	}
	fmt.Fprintf(stdout, "alb AWS endpoint (ELBv2, S3, ACM) %s\n", srv.URL())
	return api, srv, nil
}

// serveALBAPIOnly runs `serve alb --api` without a YAML configuration: listeners come and go
// through the API.
func serveALBAPIOnly(ctx context.Context, f *albAPIFlags, log *slog.Logger, stdout io.Writer) error {
	api, srv, err := f.start(ctx, alb.Options{Log: log}, log, stdout)
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Close(shutdown), api.Close(shutdown))
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
