package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParentOfAndChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	if got := parentOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentOf(self) = %d, want %d", got, os.Getppid())
	}
	if !slices.Contains(children(os.Getppid()), os.Getpid()) {
		t.Errorf("children(%d) lacks this process %d", os.Getppid(), os.Getpid())
	}
	if got := parentOf(1 << 30); got != 0 {
		t.Errorf("parentOf(no such pid) = %d, want 0", got)
	}
}

func TestLookupMissing(t *testing.T) {
	if _, err := Lookup("mtlsgate-no-such-server"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Lookup of a missing binary: %v, want not found", err)
	}
}

func TestStartFailsFastWhenTheServerExits(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), Options{
		Name: "false", Path: "/bin/false", Dir: dir, LogFile: "log", ReloadSignal: syscall.SIGHUP, StopSignal: syscall.SIGTERM,
		Ready: func(context.Context) error { return errors.New("no answer") }, Timeout: 10 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "exited while waiting") {
		t.Fatalf("Start of a server that exits: %v, want it reported as exited", err)
	}
}

// TestNginxReloadServesTheNewGeneration runs a real nginx when one is installed: start on
// generation 1, reload to 2, and the probe answers 2 with no worker of generation 1 left.
func TestNginxReloadServesTheNewGeneration(t *testing.T) {
	bin, err := Lookup("nginx")
	if err != nil {
		t.Skip("nginx is not installed")
	}
	dir, addr := nginxPrefix(t)
	write := func(gen int) {
		conf := fmt.Sprintf(`pid nginx.pid; worker_processes 1; events { worker_connections 64; }
http { access_log off; client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;
  server { listen %s; location = /gen { return 200 "%d"; } } }
`, addr, gen)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Start(ctx, Options{
		Name: "nginx", Path: bin, Dir: dir, LogFile: "logs/stderr.log",
		Args:         []string{"-p", dir + "/", "-c", "nginx.conf", "-e", "logs/error.log", "-g", "daemon off;"},
		ReloadSignal: syscall.SIGHUP, StopSignal: syscall.SIGQUIT, ProbeURL: "http://" + addr + "/gen",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AwaitGeneration(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	old := children(p.PID())
	if len(old) == 0 {
		t.Fatal("nginx master has no worker")
	}
	write(2)
	if err := p.Reload(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if alive := stillAlive(p.PID(), old); len(alive) > 0 {
		t.Errorf("workers of generation 1 still running after the reload: %v", alive)
	}
	if got, err := p.probe(ctx); err != nil || got != "2" {
		t.Errorf("probe after the reload: %q %v, want 2", got, err)
	}
}

// nginxPrefix makes an nginx prefix directory (logs/ and tmp/) and finds a free loopback
// address for a test's nginx to listen on.
func nginxPrefix(t *testing.T) (dir, addr string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	_ = l.Close()
	return dir, addr
}
