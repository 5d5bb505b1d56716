// Package daemon runs a configuration-file server (nginx, HAProxy) as a child process on
// loopback for a harness target: start it, reload it by signal, know when a reload is really
// serving through a generation probe, and stop it. It holds no knowledge of any one server's
// configuration language.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options describe one server process.
type Options struct {
	// Name names the server in errors ("nginx").
	Name string
	// Path and Args are the command; the process must stay in the foreground.
	Path string
	Args []string
	// Dir is the working directory; LogFile (relative to Dir or absolute) receives stdout and
	// stderr and is quoted in errors.
	Dir, LogFile string
	// ReloadSignal makes the master re-read its configuration (SIGHUP for nginx, SIGUSR2 for
	// HAProxy's master-worker mode); StopSignal asks for a graceful stop (SIGQUIT for nginx).
	ReloadSignal, StopSignal syscall.Signal
	// ProbeURL answers the generation of the configuration that served the request, as the
	// decimal body of a 200; a server that is never reloaded may leave it empty.
	ProbeURL string
	// Ready, when set, is what Start waits for instead of a generation: a server that is
	// never reloaded (the bench's) proves it serves by answering a real request.
	Ready Probe
	// Timeout bounds a start or reload until the probe answers; 0 means DefaultTimeout.
	Timeout time.Duration
	// StopGrace bounds a graceful stop before the process group is killed; 0 means Timeout.
	StopGrace time.Duration
	// ProbeInterval is the pause between two probes; 0 means DefaultProbeInterval.
	ProbeInterval time.Duration
}

// Probe answers nil once the server does what is waited for; its error says what it saw last.
type Probe func(ctx context.Context) error

// The supervisor's default bounds, named so a slow machine's failure message points at them.
const (
	// DefaultTimeout bounds a start or a reload until the probe answers.
	DefaultTimeout = 15 * time.Second
	// DefaultProbeInterval is the pause between two probes of a starting or reloading server.
	DefaultProbeInterval = 5 * time.Millisecond
	// probeRequestTimeout bounds one probe request.
	probeRequestTimeout = 2 * time.Second
)

// Process is a running server.
type Process struct {
	opts   Options
	cmd    *exec.Cmd
	log    *os.File
	done   chan struct{}
	mu     sync.Mutex
	exit   error
	client *http.Client
}

// Start runs the server and, when Options.Ready is set, waits until it answers.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = opts.Timeout
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	logPath := opts.logPath()
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log %s: %w", opts.Name, logPath, err)
	}
	cmd := exec.Command(opts.Path, opts.Args...) //nolint:gosec // the harness runs the server it was told to
	cmd.Dir, cmd.Stdout, cmd.Stderr = opts.Dir, log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", opts.Name, err)
	}
	p := &Process{opts: opts, cmd: cmd, log: log, done: make(chan struct{}),
		client: &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exit = err
		p.mu.Unlock()
		close(p.done)
	}()
	if opts.Ready != nil {
		if err := p.Await(ctx, "an answer", opts.Timeout, opts.Ready); err != nil {
			_ = p.Stop(context.Background())
			return nil, err
		}
	}
	return p, nil
}

func (o Options) logPath() string {
	if filepath.IsAbs(o.LogFile) {
		return o.LogFile
	}
	return filepath.Join(o.Dir, o.LogFile)
}

// PID is the master process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// AwaitGeneration returns once the probe answers gen, so the next connection is served by that
// configuration.
func (p *Process) AwaitGeneration(ctx context.Context, gen uint64) error {
	return p.waitGeneration(ctx, gen, nil)
}

// Reload signals the master to re-read its configuration and returns once the probe answers gen
// and every worker of the previous configuration has exited, so the next connection is served
// by the new configuration.
func (p *Process) Reload(ctx context.Context, gen uint64) error {
	old := children(p.PID())
	if err := p.cmd.Process.Signal(p.opts.ReloadSignal); err != nil {
		return fmt.Errorf("reload %s: signal master %d: %w", p.opts.Name, p.PID(), err)
	}
	return p.waitGeneration(ctx, gen, old)
}

// waitGeneration polls the probe until it answers gen and none of the old workers remain.
func (p *Process) waitGeneration(ctx context.Context, gen uint64, old []int) error {
	want := strconv.FormatUint(gen, 10)
	return p.Await(ctx, "configuration generation "+want, p.opts.Timeout, func(ctx context.Context) error {
		got, err := p.probe(ctx)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("generation %s", got)
		}
		if alive := stillAlive(p.PID(), old); len(alive) > 0 {
			return fmt.Errorf("generation %s served, old workers %v still running", got, alive)
		}
		return nil
	})
}

// Await polls probe until it answers nil; it fails, quoting the last probe and the log's tail,
// when the process exits, ctx ends or timeout passes. what names what is waited for.
func (p *Process) Await(ctx context.Context, what string, timeout time.Duration, probe Probe) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(p.opts.ProbeInterval)
	defer tick.Stop()
	last := "no answer yet"
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while waiting for %s: %v (last probe: %s)\n%s", p.opts.Name, what, p.exitErr(), last, p.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("%s did not serve %s within %s (last probe: %s)\n%s", p.opts.Name, what, timeout, last, p.LogTail())
		case <-tick.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, probeRequestTimeout)
		err := probe(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		if ctx.Err() == nil {
			// A probe cut short by the overall deadline says nothing about the server; the
			// error keeps the last probe that ran its course.
			last = err.Error()
		}
	}
}

func (p *Process) probe(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.ProbeURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("probe %s: status %d", p.opts.ProbeURL, resp.StatusCode)
	}
	return strings.TrimSpace(string(b)), nil
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Stop asks for a graceful stop and kills the process group when ctx ends first or after the
// stop grace; workers that outlived their master are killed with the group. It removes nothing
// on disk.
func (p *Process) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return p.log.Close()
	default:
	}
	_ = p.cmd.Process.Signal(p.opts.StopSignal)
	timer := time.NewTimer(p.opts.StopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-timer.C:
	}
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
	}
	// Workers that outlived their master still belong to its group.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	return p.log.Close()
}

// LogTail is the end of the server's log, for error messages.
func (p *Process) LogTail() string {
	b, err := os.ReadFile(p.opts.logPath())
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// children lists the processes whose parent is pid (Linux /proc).
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parentOf(child) == pid {
			out = append(out, child)
		}
	}
	return out
}

// stillAlive returns the pids of old that are still children of pid (and not zombies).
func stillAlive(pid int, old []int) []int {
	var out []int
	for _, c := range old {
		if parentOf(c) == pid {
			out = append(out, c)
		}
	}
	return out
}

// parentOf reads a process's parent from /proc/<pid>/stat; 0 when it is gone or a zombie.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses, so cut at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || f[0] == "Z" {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// ErrNotFound is returned by Lookup when the binary is not on PATH.
var ErrNotFound = errors.New("not found")

// Lookup finds a server binary on PATH or in the usual sbin directories, which a non-root PATH
// often lacks.
func Lookup(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s %w", name, ErrNotFound)
}
