package alb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/bufpool"
	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// Options are the emulator's process-level settings, which a reload does not change.
type Options struct {
	// Log receives diagnostics (failed handshakes at debug level); nil discards them.
	Log *slog.Logger
	// ConnectionLog, when set, receives the connection log too (besides ConnectionLogs.Path).
	ConnectionLog io.Writer
	// Now is the clock certificates are judged by; nil means time.Now.
	Now func() time.Time
}

// ALB is a running emulated load balancer. Its configuration lives in an atomic pointer: a new
// handshake or request always sees one whole configuration, and Reload swaps it at once.
type ALB struct {
	opts      Options
	state     atomic.Pointer[state]
	mu        sync.Mutex // serialises Reload and Close
	listeners []*listener
	files     map[string]*os.File
	closed    bool
	// buffers lends every listener's reverse proxy its body-copy buffers.
	buffers *bufpool.Pool
	// leaves are the verify-mode header values of the client leaves seen, shared by every
	// listener and configuration (they depend on the certificate alone).
	leaves leafCache
}

// state is one loaded configuration.
type state struct {
	cfg       Config
	listeners []*listenerState
	groups    map[string]*targetGroup
	log       *logSink
	attrs     lbAttributes
}

// Start validates cfg, binds its listeners and starts the health checks. ctx bounds the binds.
func Start(ctx context.Context, cfg Config, opts Options) (*ALB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &ALB{opts: opts, files: map[string]*os.File{}, buffers: bufpool.New()}
	st, err := a.build(cfg, nil)
	if err != nil {
		a.closeFiles()
		return nil, fmt.Errorf("start ALB: %w", err)
	}
	a.state.Store(st)
	for i, l := range cfg.Listeners {
		ln, err := startListener(ctx, a, i, l)
		if err != nil {
			_ = a.Close(context.Background())
			return nil, fmt.Errorf("start ALB: %w", err)
		}
		a.listeners = append(a.listeners, ln)
	}
	for _, g := range st.groups {
		g.start()
	}
	return a, nil
}

// check loads cfg as Start would, without binding or starting anything, and returns why it
// does not load.
func check(cfg Config, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &ALB{opts: opts, files: map[string]*os.File{}, buffers: bufpool.New()}
	defer a.closeFiles()
	_, err := a.build(cfg, nil)
	return err
}

// Reload replaces the configuration for new connections and requests. Nothing changes when
// the new configuration fails to load: the error names the item and the last good one stays.
// The listeners themselves (their number and ports) are fixed at Start.
func (a *ALB) Reload(_ context.Context, cfg Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("reload ALB: the load balancer is closed")
	}
	old := a.state.Load()
	if len(cfg.Listeners) != len(a.listeners) {
		return fmt.Errorf("reload ALB: Listeners: %d listeners, but %d are running; listeners cannot be added or removed without a restart",
			len(cfg.Listeners), len(a.listeners))
	}
	for i, l := range cfg.Listeners {
		if l.Port != 0 && l.Port != a.listeners[i].port && l.Port != old.cfg.Listeners[i].Port {
			return fmt.Errorf("reload ALB: Listeners[%d].Port %d: the listener is bound to port %d; a port change needs a restart", i, l.Port, a.listeners[i].port)
		}
	}
	st, err := a.build(cfg, old)
	if err != nil {
		return fmt.Errorf("reload ALB: %w (the previous configuration stays in force)", err)
	}
	for _, g := range st.groups {
		g.start()
	}
	a.state.Store(st)
	for name, g := range old.groups {
		if st.groups[name] != g {
			g.stop()
		}
	}
	return nil
}

// build loads a configuration: trust stores, target groups and listeners, all or nothing.
// Target groups whose configuration did not change are carried over with their health.
func (a *ALB) build(cfg Config, old *state) (*state, error) {
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("Listeners: at least one listener is needed")
	}
	stores := map[string]*trustStore{}
	for i, ts := range cfg.TrustStores {
		s, err := loadTrustStore(ts)
		if err != nil {
			return nil, fmt.Errorf("TrustStores[%d]: %w", i, err)
		}
		for _, key := range []string{ts.Name, ts.TrustStoreArn} {
			if key == "" {
				continue
			}
			if stores[key] != nil {
				return nil, fmt.Errorf("TrustStores[%d]: the name %q is used twice", i, key)
			}
			stores[key] = s
		}
	}
	attrs, err := parseLBAttributes(cfg.LoadBalancerAttributes)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, groups: map[string]*targetGroup{}, attrs: attrs}
	for i, tgc := range cfg.TargetGroups {
		var g *targetGroup
		if old != nil {
			if prev := old.groups[tgc.TargetGroupName]; prev != nil && reflect.DeepEqual(prev.cfg, tgc) {
				g = prev
			}
		}
		if g == nil {
			var err error
			if g, err = newTargetGroup(tgc, fmt.Sprintf("TargetGroups[%d]", i), a.idleTimeout); err != nil {
				return nil, err
			}
		}
		for _, key := range []string{tgc.TargetGroupName, tgc.TargetGroupArn} {
			if key == "" {
				continue
			}
			if st.groups[key] != nil && st.groups[key] != g {
				return nil, fmt.Errorf("TargetGroups[%d]: the name %q is used twice", i, key)
			}
			st.groups[key] = g
		}
	}
	for i, l := range cfg.Listeners {
		ls, err := buildListener(i, l, stores, st.groups, a.opts.Now)
		if err != nil {
			return nil, err
		}
		st.listeners = append(st.listeners, ls)
	}
	sink, err := a.sink(cfg.ConnectionLogs.Path)
	if err != nil {
		return nil, err
	}
	st.log = sink
	return st, nil
}

// sink returns the connection log: the file at path (opened once and kept until Close) and
// Options.ConnectionLog, whichever are set.
func (a *ALB) sink(path string) (*logSink, error) {
	var ws []io.Writer
	if path != "" {
		f := a.files[path]
		if f == nil {
			var err error
			if f, err = regularfile.OpenAppend(path); err != nil {
				return nil, fmt.Errorf("ConnectionLogs.Path: open %q: %w", path, err)
			}
			a.files[path] = f
		}
		ws = append(ws, f)
	}
	if a.opts.ConnectionLog != nil {
		ws = append(ws, a.opts.ConnectionLog)
	}
	if len(ws) == 0 {
		return nil, nil
	}
	return &logSink{w: io.MultiWriter(ws...)}, nil
}

func (a *ALB) closeFiles() {
	for _, f := range a.files {
		_ = f.Close()
	}
}

// URL is the base URL of listener i (https://127.0.0.1:PORT).
func (a *ALB) URL(i int) string { return a.listeners[i].url() }

// URLs are the base URLs of every listener, in configuration order.
func (a *ALB) URLs() []string {
	out := make([]string, len(a.listeners))
	for i, l := range a.listeners {
		out[i] = l.url()
	}
	return out
}

// Config is the configuration in force.
func (a *ALB) Config() Config { return a.state.Load().cfg }

// TargetHealth reports the health of a target group's targets, as DescribeTargetHealth does.
func (a *ALB) TargetHealth(group string) ([]TargetHealth, error) {
	g := a.state.Load().groups[group]
	if g == nil {
		return nil, fmt.Errorf("target health: no target group %q", group)
	}
	out := make([]TargetHealth, len(g.targets))
	for i, t := range g.targets {
		out[i] = t.health()
	}
	return out, nil
}

// Close stops the listeners and health checks and closes the log file. ctx bounds the wait
// for in-flight requests.
func (a *ALB) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	for _, l := range a.listeners {
		errs = append(errs, l.close(ctx))
	}
	if st := a.state.Load(); st != nil {
		stopped := map[*targetGroup]bool{}
		for _, g := range st.groups {
			if !stopped[g] {
				stopped[g] = true
				g.stop()
			}
		}
	}
	a.closeFiles()
	return errors.Join(errs...)
}

// diagnostics is where the listeners' internal errors go: Options.Log, or nowhere, as its doc
// promises (never the process's standard logger).
func (a *ALB) diagnostics() *slog.Logger {
	if a.opts.Log != nil {
		return a.opts.Log
	}
	return slog.New(slog.DiscardHandler)
}
