package alb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// ConnectionLogLines bounds the connection log `serve alb --status-listen` keeps in memory for
// GET /connection-log.
const ConnectionLogLines = 10000

// Runner owns the running configuration of a served ALB (`serve alb`): the configuration file,
// the control API and the file watcher all change it through here, one at a time.
type Runner struct {
	path string
	lb   *ALB
	log  *slog.Logger
	// root is the directory files named through the control API must be in.
	root string

	mu       sync.Mutex
	cfg      Config // the configuration in force
	seen     string // stamps of the file and of the files cfg names
	seenFile string // the stamp of the file alone
}

// NewRunner takes over lb, started from cfg, which was read from the file at path; files a
// configuration posted to the control API names must be under root.
func NewRunner(path string, lb *ALB, cfg Config, log *slog.Logger, root string) *Runner {
	return &Runner{path: path, lb: lb, cfg: cfg, log: log, root: root, seen: stamps(path, cfg), seenFile: stampOf(path)}
}

// ReloadFile re-reads the configuration file (on SIGHUP, say); a failure is logged and changes
// nothing.
func (r *Runner) ReloadFile(ctx context.Context, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := ReadFile(r.path)
	if err == nil {
		err = r.lb.Reload(ctx, next)
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

// ReloadIfChanged, called by a file watcher, reloads when the configuration file changed (it is read again) or when only a
// file the running configuration names changed (the running configuration is loaded again, so a
// configuration set through the control API is not replaced by the file's).
func (r *Runner) ReloadIfChanged(ctx context.Context) {
	r.mu.Lock()
	now := stamps(r.path, r.cfg)
	if now == r.seen {
		r.mu.Unlock()
		return
	}
	if stampOf(r.path) != r.seenFile {
		r.mu.Unlock()
		r.ReloadFile(ctx, "file change")
		return
	}
	defer r.mu.Unlock()
	r.seen = now
	if err := r.lb.Reload(ctx, r.cfg); err != nil {
		r.log.Error("alb: reload failed; the previous configuration stays", "trigger", "file change", "err", err)
		return
	}
	r.log.Info("alb: configuration reloaded", "trigger", "file change")
}

// Apply loads cfg, posted to the control API, as a reload does: on error nothing changes.
func (r *Runner) Apply(ctx context.Context, cfg Config) error {
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

// Restart stops the load balancer and starts a new one from cfg, as restarting the process with
// cfg would: no target health, TLS session state, connection or (when conns is set) connection
// log line is carried over, and the listeners may differ. A configuration that does not load is
// refused first and changes nothing; if the new load balancer then cannot bind its listeners,
// none runs until a restart succeeds (the error says so).
func (r *Runner) Restart(ctx context.Context, cfg Config, conns *LineRing) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	opts := r.lb.opts
	if err := check(cfg, opts); err != nil {
		r.log.Error("alb: restart from the control API refused; the running load balancer stays", "err", err)
		return fmt.Errorf("restart ALB: %w (the running load balancer stays)", err)
	}
	if err := r.lb.Close(ctx); err != nil {
		r.log.Warn("alb: restart: stopping the running load balancer", "err", err)
	}
	if conns != nil {
		conns.Clear()
	}
	lb, err := Start(ctx, cfg, opts)
	if err != nil {
		r.log.Error("alb: restart failed; no load balancer runs until a restart succeeds", "err", err)
		return fmt.Errorf("restart ALB: %w (the previous load balancer is stopped: restart again)", err)
	}
	r.lb, r.cfg = lb, cfg
	r.seen = stamps(r.path, cfg)
	r.log.Info("alb: restarted", "trigger", "control API")
	return nil
}

// TargetHealth is DescribeTargetHealth for one target group of the running load balancer.
func (r *Runner) TargetHealth(group string) ([]TargetHealth, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lb.TargetHealth(group)
}

// Close stops the running load balancer (ctx bounds the wait for in-flight requests).
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lb.Close(ctx)
}

// Config is the configuration in force, whichever way it came.
func (r *Runner) Config() Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// maxConfigBody bounds a POST /config body.
const maxConfigBody = 4 << 20

// ControlHandler is the control API of `serve alb --status-listen` (the server side of
// ControlClient), reading the connection log from conns; followers of the log are let go when
// ctx ends. It does no access control: wrap it in a guard.
func ControlHandler(ctx context.Context, r *Runner, conns *LineRing) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+controlapi.PathReady, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ready":true}`+"\n")
	})
	mux.HandleFunc("GET "+ControlPathTargetHealth, func(w http.ResponseWriter, req *http.Request) {
		group := req.URL.Query().Get("group")
		if group == "" {
			http.Error(w, "target health: give the target group: /target-health?group=NAME", http.StatusBadRequest)
			return
		}
		hs, err := r.TargetHealth(group)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hs)
	})
	mux.HandleFunc("GET "+ControlPathConnectionLog, func(w http.ResponseWriter, req *http.Request) {
		serveLines(ctx, w, req, conns, req.URL.Query().Get("follow") == "true")
	})
	mux.HandleFunc("GET "+ControlPathConnectionLogFile, func(w http.ResponseWriter, _ *http.Request) {
		p := r.Config().ConnectionLogs.Path
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
	mux.HandleFunc("POST "+ControlPathConfig, postConfig(r, r.Apply))
	mux.HandleFunc("POST "+ControlPathRestart, postConfig(r, func(ctx context.Context, cfg Config) error { return r.Restart(ctx, cfg, conns) }))
	return mux
}

// postConfig handles a configuration posted to the control API: read, parse, confine its files
// to the runner's root, and hand it to load (a reload or a restart); 204, or 400 with the error.
func postConfig(r *Runner, load func(context.Context, Config) error) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxConfigBody))
		if err != nil {
			http.Error(w, fmt.Sprintf("read the configuration: %v", err), http.StatusBadRequest)
			return
		}
		cfg, err := Parse(b)
		if err == nil {
			err = confineFiles(&cfg, r.root)
		}
		if err == nil {
			err = load(req.Context(), cfg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// LineRing is the in-memory connection log behind GET /connection-log: it keeps the last max
// complete lines written to it, and wakes followers when lines arrive.
type LineRing struct {
	max int

	mu      sync.Mutex
	lines   []string
	dropped int // lines trimmed off the front, so followers count from the first line ever
	partial string
	changed chan struct{}
}

// NewLineRing keeps the last n lines.
func NewLineRing(n int) *LineRing { return &LineRing{max: n} }

// Write implements io.Writer, so the ring can be Options.ConnectionLog.
func (l *LineRing) Write(p []byte) (int, error) {
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

// Clear drops every kept line (and an unfinished one), as a new process starts with an empty
// log; a follower goes on with the next line written.
func (l *LineRing) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped += len(l.lines)
	l.lines, l.partial = nil, ""
}

// since returns the kept lines from line number from (0 is the first line ever written), the
// number to ask for next, and a channel closed when more arrive.
func (l *LineRing) since(from int) ([]string, int, <-chan struct{}) {
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
func serveLines(ctx context.Context, w http.ResponseWriter, req *http.Request, l *LineRing, follow bool) {
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
func stamps(path string, cfg Config) string {
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

// confineFiles resolves every file a configuration posted to the control API names against
// root and refuses one outside it (symbolic links followed), so the API can neither read nor
// append to arbitrary files. Errors name the field, never a file's content.
func confineFiles(cfg *Config, root string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("control API file root %q: %w", root, err)
	}
	for _, f := range cfg.FileFields() {
		if *f.Path == "" {
			continue
		}
		p := *f.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		p = filepath.Clean(p)
		real, err := filepath.EvalSymlinks(p)
		if os.IsNotExist(err) {
			// A log file may not exist yet: its directory must.
			var dir string
			if dir, err = filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
				real = filepath.Join(dir, filepath.Base(p))
			}
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", f.Name, *f.Path, err)
		}
		if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s %q: the control API takes files under %s only (--control-root)", f.Name, *f.Path, root)
		}
		*f.Path = p
	}
	return nil
}
