package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CheckTimeout bounds the server's own check of a candidate configuration (nginx -t, haproxy -c).
const CheckTimeout = 20 * time.Second

// Rendering is one configuration to install: the main file and the files it refers to.
type Rendering struct {
	// Main is the main configuration file's text.
	Main []byte
	// Files are written beside it (names relative to Dir) when absent and never rewritten: their
	// names carry their content's hash, so an old generation's file stays valid until the swap.
	Files map[string][]byte
}

// Render renders the configuration of generation gen, which the server's probe must answer.
type Render func(gen uint64) (Rendering, error)

// SupervisorOptions describe a configuration-file server and how to check a candidate.
type SupervisorOptions struct {
	Options
	// ConfigFile is the main configuration file, relative to Dir ("nginx.conf"); a candidate is
	// written to ConfigFile+".next" and checked before it replaces it.
	ConfigFile string
	// Check runs the server's own check of the candidate (its path relative to Dir) and returns
	// an error saying what the server refused; the supervisor returns that error unwrapped.
	Check func(ctx context.Context, candidate string) error
}

// Supervisor owns one configuration-file server's lifecycle: render, check, swap, start,
// reload and restore. Apply and Start may run before and after each other; Apply is
// serialized.
type Supervisor struct {
	opts SupervisorOptions
	mu   sync.Mutex
	proc *Process
	gen  uint64
	live []byte
}

// NewSupervisor prepares a supervisor; nothing runs until Apply and Start.
func NewSupervisor(opts SupervisorOptions) *Supervisor {
	return &Supervisor{opts: opts}
}

// Generation is the generation the server runs (or will start on).
func (s *Supervisor) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Apply renders the next generation, writes its files, checks the candidate, runs beforeSwap
// (nil for none), swaps it in and, once the server runs, reloads and waits until the new
// generation serves. A refused or failing candidate changes nothing the server serves: a failed
// reload restores the previous configuration file.
func (s *Supervisor) Apply(ctx context.Context, render Render, beforeSwap func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.gen + 1
	r, err := render(next)
	if err != nil {
		return err
	}
	for name, content := range r.Files {
		path := filepath.Join(s.opts.Dir, name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return fmt.Errorf("write %s file %s: %w", s.opts.Name, path, err)
		}
	}
	candidate := s.opts.ConfigFile + ".next"
	candidatePath := filepath.Join(s.opts.Dir, candidate)
	if err := os.WriteFile(candidatePath, r.Main, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", candidatePath, err)
	}
	cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	err = s.opts.Check(cctx, candidate)
	cancel()
	if err != nil {
		return err
	}
	if beforeSwap != nil {
		if err := beforeSwap(ctx); err != nil {
			return err
		}
	}
	live := filepath.Join(s.opts.Dir, s.opts.ConfigFile)
	if err := os.Rename(candidatePath, live); err != nil {
		return fmt.Errorf("install %s: %w", live, err)
	}
	if s.proc != nil {
		if err := s.proc.Reload(ctx, next); err != nil {
			_ = os.WriteFile(live, s.live, 0o600)
			return fmt.Errorf("reload %s: %w", s.opts.Name, err)
		}
	}
	s.gen, s.live = next, r.Main
	return nil
}

// Start runs the server on the installed configuration and waits until it serves that
// generation.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("start %s: already running (pid %d)", s.opts.Name, s.proc.PID())
	}
	if s.live == nil {
		return fmt.Errorf("start %s: no configuration applied yet", s.opts.Name)
	}
	p, err := Start(ctx, s.opts.Options)
	if err != nil {
		return err
	}
	if err := p.AwaitGeneration(ctx, s.gen); err != nil {
		return errors.Join(err, p.Stop(context.Background()))
	}
	s.proc = p
	return nil
}

// Stop stops the server if it runs; it removes nothing on disk.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Stop(ctx)
}
