package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorRefusedCandidateChangesNothing: a candidate the check refuses, or a render that
// fails, leaves the installed configuration and the generation as they were.
func TestSupervisorRefusedCandidateChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := NewSupervisor(SupervisorOptions{
		Options:    Options{Name: "fake", Dir: dir},
		ConfigFile: "fake.conf",
		Check: func(_ context.Context, candidate string) error {
			b, err := os.ReadFile(filepath.Join(dir, candidate))
			if err != nil {
				return err
			}
			if strings.Contains(string(b), "bad") {
				return errors.New("fake refused the rendered configuration")
			}
			return nil
		},
	})
	ctx := context.Background()
	good := func(gen uint64) (Rendering, error) {
		return Rendering{Main: fmt.Appendf(nil, "good %d", gen), Files: map[string][]byte{"side-abc": []byte("x")}}, nil
	}
	if err := s.Apply(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	if s.Generation() != 1 {
		t.Fatalf("generation after the first apply = %d, want 1", s.Generation())
	}
	bad := func(gen uint64) (Rendering, error) { return Rendering{Main: []byte("bad")}, nil }
	if err := s.Apply(ctx, bad, nil); err == nil || err.Error() != "fake refused the rendered configuration" {
		t.Fatalf("apply of a refused candidate: %v, want the check's error unwrapped", err)
	}
	failing := func(uint64) (Rendering, error) { return Rendering{}, errors.New("render failed") }
	if err := s.Apply(ctx, failing, nil); err == nil || err.Error() != "render failed" {
		t.Fatalf("apply of a failing render: %v, want the render's error", err)
	}
	swapped := false
	refuseSwap := func(context.Context) error { swapped = true; return errors.New("not now") }
	if err := s.Apply(ctx, good, refuseSwap); err == nil || !swapped {
		t.Fatalf("apply whose beforeSwap fails: %v (beforeSwap ran: %v), want its error", err, swapped)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "fake.conf")); err != nil || string(b) != "good 1" {
		t.Errorf("installed configuration = %q %v, want generation 1's", b, err)
	}
	if s.Generation() != 1 {
		t.Errorf("generation after refusals = %d, want 1", s.Generation())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "side-abc")); err != nil || string(b) != "x" {
		t.Errorf("side file = %q %v, want it written", b, err)
	}
}

// TestSupervisorNginxLifecycle runs a real nginx when one is installed: apply and start on
// generation 1, apply 2 (reload), refuse a broken candidate and keep serving 2.
func TestSupervisorNginxLifecycle(t *testing.T) {
	bin, err := Lookup("nginx")
	if err != nil {
		t.Skip("nginx is not installed")
	}
	dir, addr := nginxPrefix(t)
	conf := func(extra string) Render {
		return func(gen uint64) (Rendering, error) {
			return Rendering{Main: fmt.Appendf(nil, `pid nginx.pid; worker_processes 1; events { worker_connections 64; }
http { access_log off; client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;
  server { listen %s; location = /gen { return 200 "%d"; } %s } }
`, addr, gen, extra)}, nil
		}
	}
	s := NewSupervisor(SupervisorOptions{
		Options: Options{
			Name: "nginx", Path: bin, Dir: dir, LogFile: "logs/stderr.log",
			Args:         []string{"-p", dir + "/", "-c", "nginx.conf", "-e", "logs/error.log", "-g", "daemon off;"},
			ReloadSignal: syscall.SIGHUP, StopSignal: syscall.SIGQUIT, ProbeURL: "http://" + addr + "/gen",
		},
		ConfigFile: "nginx.conf",
		Check: func(ctx context.Context, candidate string) error {
			return checkNginx(ctx, bin, dir, candidate)
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Apply(ctx, conf(""), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	if err := s.Apply(ctx, conf(""), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, conf("no_such_directive on;"), nil); err == nil || !strings.Contains(err.Error(), "no_such_directive") {
		t.Fatalf("apply of a broken candidate: %v, want nginx -t's refusal", err)
	}
	if got, err := s.proc.probe(ctx); err != nil || got != "2" || s.Generation() != 2 {
		t.Errorf("after the refusal: probe %q %v, generation %d; want 2 served", got, err, s.Generation())
	}
}

func checkNginx(ctx context.Context, bin, dir, candidate string) error {
	out, err := exec.CommandContext(ctx, bin, "-t", "-q", "-p", dir+"/", "-c", candidate, "-e", "logs/error.log").CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx -t: %v: %s", err, out)
	}
	return nil
}
