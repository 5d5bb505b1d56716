package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// serveALB runs the ALB emulator from an ELBv2-shaped YAML file and reloads it on SIGHUP and
// whenever the file, or a certificate, CA bundle or CRL it names, changes. A reload that fails
// is logged and the running configuration stays.
func serveALB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve alb", stderr)
	path := fs.String("config", "alb.yaml", "ALB configuration (YAML with the ELBv2 API's names: Listeners, TrustStores, TargetGroups, ConnectionLogs)")
	watch := fs.Duration("watch-interval", 2*time.Second, "how often to check the configuration and the files it names for changes (0 turns polling off; SIGHUP still reloads)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logger(stderr, *level)
	if err != nil {
		return err
	}
	cfg, err := alb.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	lb, err := alb.Start(ctx, cfg, alb.Options{Log: log})
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	for i, u := range lb.URLs() {
		fmt.Fprintf(stdout, "alb listener %d (%s, mTLS %s) %s\n", i, orDefault(cfg.Listeners[i].SslPolicy, alb.DefaultPolicy),
			orDefault(cfg.Listeners[i].MutualAuthentication.Mode, alb.ModeOff), u)
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
	seen := stamps(*path, cfg)
	reload := func(why string) {
		next, err := alb.ReadFile(*path)
		if err == nil {
			err = lb.Reload(ctx, next)
		}
		if err != nil {
			log.Error("alb: reload failed; the previous configuration stays", "trigger", why, "err", err)
			return
		}
		cfg = next
		log.Info("alb: configuration reloaded", "trigger", why)
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			reload("SIGHUP")
			seen = stamps(*path, cfg)
		case <-tick:
			if now := stamps(*path, cfg); now != seen {
				seen = now
				reload("file change")
			}
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return lb.Close(shutdown)
}

// stamps fingerprints the modification times and sizes of the configuration and its files, so a
// change to any of them (a CRL replaced in place, say) triggers a reload.
func stamps(path string, cfg alb.Config) string {
	out := ""
	for _, f := range append([]string{path}, cfg.Files()...) {
		if st, err := os.Stat(f); err == nil {
			out += fmt.Sprintf("%s:%d:%d;", f, st.ModTime().UnixNano(), st.Size())
		} else {
			out += f + ":missing;"
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
