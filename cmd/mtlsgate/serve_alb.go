package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// serveALB runs the ALB emulator from an ELBv2-shaped YAML file and reloads it on SIGHUP and
// whenever the file, or a certificate, CA bundle or CRL it names, changes. A reload that fails
// is logged and the running configuration stays. With --status-listen it also serves a control
// API (readiness, target health, the connection log, configuration by POST) for harnesses that
// run it in a container.
func serveALB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve alb", stderr)
	path := fs.String("config", "alb.yaml", "ALB configuration (YAML with the ELBv2 API's names: Listeners, TrustStores, TargetGroups, ConnectionLogs)")
	watch := fs.Duration("watch-interval", 2*time.Second, "how often to check the configuration and the files it names for changes (0 turns polling off; SIGHUP still reloads)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	status := addStatusFlags(fs, "GET /status/ready, GET /target-health?group=NAME (JSON), GET /connection-log (lines; ?follow=true streams new ones), GET /connection-log/file (ConnectionLogs.Path's content), "+
		"POST /config (YAML body, Content-Type application/yaml; 204, or 400 with the error and the running configuration kept), "+
		"POST /restart (the same, but the load balancer is stopped and a new one started from the body, as a new process would: nothing carried over, the connection log emptied).")
	root := fs.String("control-root", "", "the directory files named by a configuration posted to the control API must be in (certificates, CA bundles, CRLs, ConnectionLogs.Path; relative names are resolved against it); default: the --config file's directory")
	api := addALBAPIFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve alb: unexpected argument %q (flags only)", fs.Arg(0))
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	if api.enabled() && !flagSet(fs, "config") {
		return serveALBAPIOnly(ctx, api, log, stdout)
	}
	cfg, err := alb.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	opts := alb.Options{Log: log}
	var conns *alb.LineRing
	if status.on() {
		conns = alb.NewLineRing(alb.ConnectionLogLines)
		opts.ConnectionLog = conns
	}
	lb, err := alb.Start(ctx, cfg, opts)
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	if *root == "" {
		*root = filepath.Dir(*path)
	}
	r := alb.NewRunner(*path, lb, cfg, log, *root)
	ctl, err := status.listen(ctx, alb.ControlHandler(ctx, r, conns), log)
	if err != nil {
		_ = lb.Close(context.Background())
		return fmt.Errorf("serve alb: %w", err)
	}
	for i, u := range lb.URLs() {
		fmt.Fprintf(stdout, "alb listener %d (%s, mTLS %s) %s\n", i, orDefault(cfg.Listeners[i].SslPolicy, alb.DefaultPolicy),
			orDefault(cfg.Listeners[i].MutualAuthentication.Mode, alb.ModeOff), u)
	}
	if ctl != nil {
		fmt.Fprintf(stdout, "alb control %s\n", ctl.URL())
	}
	if api.enabled() {
		apiSrv, apiHTTP, err := api.start(ctx, opts, log, stdout)
		if err != nil {
			if ctl != nil {
				_ = ctl.Close(context.Background())
			}
			_ = r.Close(context.Background())
			return fmt.Errorf("serve alb: %w", err)
		}
		defer apiSrv.Close(context.Background())  //nolint:errcheck // shutting down
		defer apiHTTP.Close(context.Background()) //nolint:errcheck // shutting down
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if *watch > 0 {
		t := time.NewTicker(*watch)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			r.ReloadFile(ctx, "SIGHUP")
		case <-tick:
			r.ReloadIfChanged(ctx)
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if ctl != nil {
		errs = append(errs, ctl.Close(shutdown))
	}
	errs = append(errs, r.Close(shutdown))
	return errors.Join(errs...)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
