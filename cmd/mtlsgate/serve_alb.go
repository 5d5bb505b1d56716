package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/internal/regularfile"
	"github.com/mtlsgate/mtlsgate/internal/serve"
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
	status := fs.String("status-listen", "", "plain-HTTP control listener (off when empty; e.g. 127.0.0.1:8100, or 0.0.0.0:8100 in a container): "+
		"GET /status/ready, GET /target-health?group=NAME (JSON), GET /connection-log (lines; ?follow=true streams new ones), GET /connection-log/file (ConnectionLogs.Path's content), "+
		"POST /config (YAML body, Content-Type application/yaml; 204, or 400 with the error and the running configuration kept). "+
		"Host headers other than an IP address, localhost or the listen host are refused; bind it to loopback or a private network, and set --status-token on a shared host")
	token := fs.String("status-token", os.Getenv("MTLSGATE_STATUS_TOKEN"), "with --status-listen, a token every control call but GET /status/ready must present as Authorization: Bearer <token> (default $MTLSGATE_STATUS_TOKEN; empty means none)")
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
	var conns *lineRing
	if *status != "" {
		conns = &lineRing{max: connLogLines}
		opts.ConnectionLog = conns
	}
	lb, err := alb.Start(ctx, cfg, opts)
	if err != nil {
		return fmt.Errorf("serve alb: %w", err)
	}
	if *root == "" {
		*root = filepath.Dir(*path)
	}
	r := &albRunner{path: *path, lb: lb, cfg: cfg, log: log, root: *root}
	r.seen, r.seenFile = stamps(*path, cfg), stampOf(*path)
	var ctl *serve.Server
	if *status != "" {
		listenHost, _, _ := net.SplitHostPort(*status)
		guard := controlGuard{listenHost: listenHost, token: *token}
		if ctl, err = serve.Listen(ctx, *status, guard.wrap(albControl(ctx, r, conns)), serve.Options{ErrorLog: log}); err != nil {
			_ = lb.Close(context.Background())
			return fmt.Errorf("serve alb: --status-listen: %w", err)
		}
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
			_ = lb.Close(context.Background())
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
			r.reloadFile("SIGHUP")
		case <-tick:
			r.reloadIfChanged()
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if ctl != nil {
		errs = append(errs, ctl.Close(shutdown))
	}
	errs = append(errs, lb.Close(shutdown))
	return errors.Join(errs...)
}

// connLogLines bounds the connection log kept in memory for GET /connection-log.
const connLogLines = 10000

// albRunner owns the running configuration of `serve alb`: the file, the control API and the
// file watcher all change it through here, one at a time.
type albRunner struct {
	path string
	lb   *alb.ALB
	log  *slog.Logger
	// root is the directory files named through the control API must be in.
	root string

	mu       sync.Mutex
	cfg      alb.Config // the configuration in force
	seen     string     // stamps of the file and of the files cfg names
	seenFile string     // the stamp of the file alone
}

// reloadFile re-reads the configuration file; a failure is logged and changes nothing.
func (r *albRunner) reloadFile(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := alb.ReadFile(r.path)
	if err == nil {
		err = r.lb.Reload(context.Background(), next)
	}
	r.seen, r.seenFile = stamps(r.path, r.cfg), stampOf(r.path)
	if err != nil {
		r.log.Error("alb: reload failed; the previous configuration stays", "trigger", why, "err", err)
		return
	}
	r.cfg = next
	r.seen = stamps(r.path, next)
	r.log.Info("alb: configuration reloaded", "trigger", why)
}

// reloadIfChanged reloads when the configuration file changed (it is read again) or when only a
// file the running configuration names changed (the running configuration is loaded again, so a
// configuration set through the control API is not replaced by the file's).
func (r *albRunner) reloadIfChanged() {
	r.mu.Lock()
	now := stamps(r.path, r.cfg)
	if now == r.seen {
		r.mu.Unlock()
		return
	}
	if stampOf(r.path) != r.seenFile {
		r.mu.Unlock()
		r.reloadFile("file change")
		return
	}
	defer r.mu.Unlock()
	r.seen = now
	if err := r.lb.Reload(context.Background(), r.cfg); err != nil {
		r.log.Error("alb: reload failed; the previous configuration stays", "trigger", "file change", "err", err)
		return
	}
	r.log.Info("alb: configuration reloaded", "trigger", "file change")
}

// apply loads cfg, as a reload does: on error nothing changes.
func (r *albRunner) apply(ctx context.Context, cfg alb.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.lb.Reload(ctx, cfg); err != nil {
		r.log.Error("alb: configuration from the control API refused; the previous configuration stays", "err", err)
		return err
	}
	r.cfg = cfg
	r.seen = stamps(r.path, cfg)
	r.log.Info("alb: configuration reloaded", "trigger", "control API")
	return nil
}

// config is the configuration in force.
func (r *albRunner) config() alb.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// maxConfigBody bounds a POST /config body.
const maxConfigBody = 4 << 20

// albControl is the control API of --status-listen; followers of the connection log are let go
// when ctx ends.
func albControl(ctx context.Context, r *albRunner, conns *lineRing) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+controlapi.PathReady, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ready":true}`+"\n")
	})
	mux.HandleFunc("GET "+alb.ControlPathTargetHealth, func(w http.ResponseWriter, req *http.Request) {
		group := req.URL.Query().Get("group")
		if group == "" {
			http.Error(w, "target health: give the target group: /target-health?group=NAME", http.StatusBadRequest)
			return
		}
		hs, err := r.lb.TargetHealth(group)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hs)
	})
	mux.HandleFunc("GET "+alb.ControlPathConnectionLog, func(w http.ResponseWriter, req *http.Request) {
		serveLines(ctx, w, req, conns, req.URL.Query().Get("follow") == "true")
	})
	mux.HandleFunc("GET "+alb.ControlPathConnectionLogFile, func(w http.ResponseWriter, _ *http.Request) {
		p := r.config().ConnectionLogs.Path
		if p == "" {
			http.Error(w, "connection log file: ConnectionLogs.Path is not set", http.StatusNotFound)
			return
		}
		b, err := regularfile.Read(p, regularfile.MaxConfig)
		if err != nil {
			http.Error(w, fmt.Sprintf("connection log file: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST "+alb.ControlPathConfig, func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxConfigBody))
		if err != nil {
			http.Error(w, fmt.Sprintf("read the configuration: %v", err), http.StatusBadRequest)
			return
		}
		cfg, err := alb.Parse(b)
		if err == nil {
			err = confineFiles(&cfg, r.root)
		}
		if err == nil {
			err = r.apply(req.Context(), cfg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// lineRing keeps the last max complete lines written to it, and wakes followers when lines
// arrive.
type lineRing struct {
	max int

	mu      sync.Mutex
	lines   []string
	dropped int // lines trimmed off the front, so followers count from the first line ever
	partial string
	changed chan struct{}
}

// Write implements io.Writer.
func (l *lineRing) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.partial + string(p)
	parts := strings.Split(s, "\n")
	l.partial = parts[len(parts)-1]
	l.lines = append(l.lines, parts[:len(parts)-1]...)
	if over := len(l.lines) - l.max; over > 0 {
		l.lines = append([]string(nil), l.lines[over:]...)
		l.dropped += over
	}
	if l.changed != nil && len(parts) > 1 {
		close(l.changed)
		l.changed = nil
	}
	return len(p), nil
}

// since returns the kept lines from line number from (0 is the first line ever written), the
// number to ask for next, and a channel closed when more arrive.
func (l *lineRing) since(from int) ([]string, int, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	from = max(from-l.dropped, 0)
	from = min(from, len(l.lines))
	out := append([]string(nil), l.lines[from:]...)
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return out, l.dropped + len(l.lines), l.changed
}

// serveLines writes the kept lines, one per line; with follow it keeps the answer open and
// writes each new line as it arrives, until the client goes away or ctx ends.
func serveLines(ctx context.Context, w http.ResponseWriter, req *http.Request, l *lineRing, follow bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	flusher, _ := w.(http.Flusher)
	next := 0
	for {
		lines, n, changed := l.since(next)
		next = n
		for _, line := range lines {
			if _, err := io.WriteString(w, line+"\n"); err != nil {
				return
			}
		}
		if !follow {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-req.Context().Done():
			return
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// stamps fingerprints the modification times and sizes of the configuration and its files, so a
// change to any of them (a CRL replaced in place, say) triggers a reload.
func stamps(path string, cfg alb.Config) string {
	out := ""
	for _, f := range append([]string{path}, cfg.Files()...) {
		out += stampOf(f)
	}
	return out
}

// stampOf fingerprints one file.
func stampOf(f string) string {
	if st, err := os.Stat(f); err == nil {
		return fmt.Sprintf("%s:%d:%d;", f, st.ModTime().UnixNano(), st.Size())
	}
	return f + ":missing;"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
