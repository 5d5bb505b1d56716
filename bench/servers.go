package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong"
)

// The servers under test, by the names --only takes.
const (
	Kong    = "kong"
	ALB     = "alb"
	Nginx   = "nginx"
	HAProxy = "haproxy"
)

// AllServers is the default set, in the order each round visits them.
func AllServers() []string { return []string{Kong, ALB, Nginx, HAProxy} }

// labels name the servers in the report.
func serverLabel(name string) string {
	switch name {
	case Kong:
		return "reference (Kong mode)"
	case ALB:
		return "reference (ALB mode)"
	case Nginx:
		return "nginx"
	case HAProxy:
		return "HAProxy"
	}
	return name
}

// files are the PKI files and directories every server is configured from.
type files struct {
	dir        string // the whole PKI, as mtlsgate pki --out writes it
	ca         string
	serverCert string
	serverKey  string
	serverPEM  string // certificate then key, as HAProxy's crt wants
	clientCert string
	clientKey  string
	clientCN   string
}

// env is what starting a server needs.
type env struct {
	work      string // scratch directory for configs and logs
	binary    string // the mtlsgate executable
	pki       files
	echoAddr  string // host:port of the shared echo upstream
	idleConns int
	nofile    uint64
}

// process is one started server (or upstream): its process group, its log and its URL.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *tailBuffer
	done chan struct{}
	err  error
	// url is the base URL of the mTLS listener (https://127.0.0.1:PORT).
	url string
	// pid is the process whose tree is the server (the nginx master, the mtlsgate process …).
	pid int
}

// tailBuffer keeps the last few KiB a process wrote, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// startProcess runs argv in its own process group so stop can end it with all its children.
func startProcess(name string, argv []string, dir string) (*process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{name: name, cmd: cmd, log: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if it has not exited within grace.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Workers that outlived their master still belong to the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// failure describes why a process is unusable, with the tail of its output.
func (p *process) failure(what string, err error) error {
	out := p.log.String()
	if out != "" {
		out = "\n" + out
	}
	if p.exited() {
		return fmt.Errorf("%s: %s exited (%v): %w%s", what, p.name, p.err, err, out)
	}
	return fmt.Errorf("%s: %s: %w%s", what, p.name, err, out)
}

// freePort asks the kernel for a free loopback port. Another process could take it before the
// server binds it; the readiness probe then fails with the server's own message.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls probe every 50ms until it succeeds, the process exits or timeout passes.
func waitFor(ctx context.Context, p *process, timeout time.Duration, what string, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.failure(what, fmt.Errorf("not ready after %s: %w", timeout, last))
		case <-p.done:
			return p.failure(what, last)
		case <-tick.C:
		}
	}
}

// startEcho runs `mtlsgate serve upstream` on a free port: the one upstream every server proxies to.
func startEcho(ctx context.Context, e *env) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := startProcess("echo upstream", []string{e.binary, "serve", "upstream", "--http", addr}, e.work)
	if err != nil {
		return nil, err
	}
	p.url = "http://" + addr
	probe := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/anything", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /anything: status %d", resp.StatusCode)
		}
		return nil
	}
	if err := waitFor(ctx, p, 15*time.Second, "start echo upstream", probe); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	e.echoAddr = addr
	return p, nil
}

// startServer starts the named server configured for the benchmark's work, and returns once an
// mTLS request through it reaches the echo.
func startServer(ctx context.Context, e *env, name string, c *client) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var p *process
	switch name {
	case Kong:
		p, err = startKong(ctx, e, dir, port)
	case ALB:
		p, err = startALB(e, dir, port)
	case Nginx:
		p, err = startNginx(e, dir, port)
	case HAProxy:
		p, err = startHAProxy(e, dir, port)
	default:
		return nil, fmt.Errorf("unknown server %q (use %s)", name, strings.Join(AllServers(), ", "))
	}
	if err != nil {
		return nil, err
	}
	p.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	probe := func(ctx context.Context) error { return c.oneShot(ctx, p.url) }
	if err := waitFor(ctx, p, 20*time.Second, "start "+serverLabel(name), probe); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	return p, nil
}

// startKong runs `mtlsgate serve kong` with a TLS-1.3-only proxy listener and configures
// mtls-auth through its Admin API, as the README's walkthrough does.
func startKong(ctx context.Context, e *env, dir string, port int) (*process, error) {
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := strings.Join([]string{
		fmt.Sprintf("proxy_listen = 127.0.0.1:%d ssl", port),
		fmt.Sprintf("admin_listen = 127.0.0.1:%d", adminPort),
		"status_listen = off",
		"ssl_cipher_suite = modern",
		"ssl_cert = " + e.pki.serverCert,
		"ssl_cert_key = " + e.pki.serverKey,
		"",
	}, "\n")
	confPath := filepath.Join(dir, "kong.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("start reference (Kong mode): write kong.conf: %w", err)
	}
	p, err := startProcess(serverLabel(Kong), []string{e.binary, "serve", "kong", "--conf", confPath, "--log-level", "warn"}, dir)
	if err != nil {
		return nil, err
	}
	admin := kongapi.New(fmt.Sprintf("http://127.0.0.1:%d", adminPort), &http.Client{Timeout: 5 * time.Second})
	probe := func(ctx context.Context) error { _, err := admin.Info(ctx); return err }
	if err := waitFor(ctx, p, 15*time.Second, "start reference (Kong mode) Admin API", probe); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	if err := configureKong(ctx, admin, e); err != nil {
		p.stop(5 * time.Second)
		return nil, p.failure("configure reference (Kong mode)", err)
	}
	return p, nil
}

// configureKong registers the CA, enables mtls-auth globally (revocation SKIP: nginx and HAProxy
// check no CRL either), routes /anything to the echo and creates the consumer named like the
// client certificate's CN.
func configureKong(ctx context.Context, admin *kongapi.Client, e *env) error {
	caPEM, err := os.ReadFile(e.pki.ca)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	ca, err := admin.CreateCACertificate(ctx, string(caPEM))
	if err != nil {
		return fmt.Errorf("POST /ca_certificates: %w", err)
	}
	if _, err := admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.MTLSAuthName, Config: map[string]any{
		"ca_certificates": []string{ca.ID}, "revocation_check_mode": "SKIP",
	}}); err != nil {
		return fmt.Errorf("POST /plugins mtls-auth: %w", err)
	}
	svc, err := admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: "http://" + e.echoAddr})
	if err != nil {
		return fmt.Errorf("POST /services: %w", err)
	}
	noStrip := false
	if _, err := admin.CreateRoute(ctx, kongapi.Route{Paths: []string{"/anything"}, StripPath: &noStrip, Service: &kongapi.Ref{ID: svc.ID}}); err != nil {
		return fmt.Errorf("POST /routes: %w", err)
	}
	if _, err := admin.CreateConsumer(ctx, kongapi.Consumer{Username: e.pki.clientCN}); err != nil {
		return fmt.Errorf("POST /consumers: %w", err)
	}
	return nil
}

// nginxConf is nginx doing the same work: verify the client certificate against ca.crt in the
// handshake, TLS 1.3 only, no session cache or tickets, proxy to the echo over kept-alive
// connections.
const nginxConf = `worker_processes 2;
worker_rlimit_nofile {{.NoFile}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events {
    worker_connections {{.WorkerConns}};
}
http {
    access_log off;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    upstream echo {
        server {{.Echo}};
        keepalive 64;
    }
    server {
        listen 127.0.0.1:{{.Port}} ssl;
        ssl_certificate {{.Cert}};
        ssl_certificate_key {{.Key}};
        ssl_protocols TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        ssl_client_certificate {{.CA}};
        ssl_verify_client on;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`

func startNginx(e *env, dir string, port int) (*process, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, fmt.Errorf("start nginx: %w (install it: apt-get install -y nginx, or leave it out with --only)", err)
	}
	b, err := render(nginxConf, map[string]any{
		"Dir": dir, "NoFile": e.nofile, "WorkerConns": e.idleConns + 1024, "Echo": e.echoAddr, "Port": port,
		"Cert": e.pki.serverCert, "Key": e.pki.serverKey, "CA": e.pki.ca,
	})
	if err != nil {
		return nil, fmt.Errorf("start nginx: render nginx.conf: %w", err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		return nil, fmt.Errorf("start nginx: write nginx.conf: %w", err)
	}
	return startProcess("nginx", []string{bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-g", "daemon off;"}, dir)
}

// haproxyConf is HAProxy doing the same work: verify required against ca.crt, TLS 1.3 only, two
// threads, keep-alive on both sides.
const haproxyConf = `global
    nbthread 2
    maxconn {{.MaxConn}}
    ulimit-n {{.NoFile}}
    # maxconn counts two sockets per connection; idle client connections hold one, so a
    # maxsock above ulimit-n is fine here: warn instead of refusing to start.
    no strict-limits
    tune.ssl.cachesize 0
    log stderr format raw local0 warning

defaults
    mode http
    log global
    option http-keep-alive
    timeout connect 5s
    timeout client 300s
    timeout server 30s
    timeout http-keep-alive 300s
    timeout http-request 300s

frontend mtls
    bind 127.0.0.1:{{.Port}} ssl crt {{.PEM}} ca-file {{.CA}} verify required ssl-min-ver TLSv1.3 alpn http/1.1 no-tls-tickets
    default_backend echo

backend echo
    http-reuse always
    server echo {{.Echo}}
`

func startHAProxy(e *env, dir string, port int) (*process, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("start HAProxy: %w (install it: apt-get install -y haproxy, or leave it out with --only)", err)
	}
	b, err := render(haproxyConf, map[string]any{
		"MaxConn": e.idleConns + 1024, "NoFile": e.nofile, "Port": port, "PEM": e.pki.serverPEM, "CA": e.pki.ca, "Echo": e.echoAddr,
	})
	if err != nil {
		return nil, fmt.Errorf("start HAProxy: render haproxy.cfg: %w", err)
	}
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		return nil, fmt.Errorf("start HAProxy: write haproxy.cfg: %w", err)
	}
	return startProcess("HAProxy", []string{bin, "-db", "-f", conf}, dir)
}

// render fills a configuration template.
func render(text string, data any) ([]byte, error) {
	t, err := template.New("conf").Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// albConf is the reference in ALB mode doing the same work: one HTTPS listener in verify mode
// with a trust store holding ca.crt, a TLS-1.3-only policy, forwarding to the echo.
const albConf = `Listeners:
  - Address: 127.0.0.1
    Port: {{.Port}}
    Protocol: HTTPS
    SslPolicy: {{.Policy}}
    Certificates:
      - CertificateFile: {{.Cert}}
        PrivateKeyFile: {{.Key}}
    MutualAuthentication:
      Mode: verify
      TrustStoreArn: bench
    DefaultActions:
      - Type: forward
        TargetGroupArn: echo
TrustStores:
  - Name: bench
    CaCertificatesBundleFile: {{.CA}}
TargetGroups:
  - TargetGroupName: echo
    Protocol: HTTP
    HealthCheckEnabled: false
    Targets:
      - Id: "{{.EchoHost}}"
        Port: {{.EchoPort}}
`

// albTLS13Policy is ELB's TLS-1.3-only security policy.
const albTLS13Policy = "ELBSecurityPolicy-TLS13-1-3-2021-06"

func startALB(e *env, dir string, port int) (*process, error) {
	host, echoPort, err := net.SplitHostPort(e.echoAddr)
	if err != nil {
		return nil, fmt.Errorf("start reference (ALB mode): echo address %q: %w", e.echoAddr, err)
	}
	b, err := render(albConf, map[string]any{
		"Port": port, "Policy": albTLS13Policy, "Cert": e.pki.serverCert, "Key": e.pki.serverKey, "CA": e.pki.ca,
		"EchoHost": host, "EchoPort": echoPort,
	})
	if err != nil {
		return nil, fmt.Errorf("start reference (ALB mode): render alb.yaml: %w", err)
	}
	conf := filepath.Join(dir, "alb.yaml")
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		return nil, fmt.Errorf("start reference (ALB mode): write alb.yaml: %w", err)
	}
	return startProcess(serverLabel(ALB), []string{e.binary, "serve", "alb", "--config", conf, "--log-level", "warn", "--watch-interval", "0"}, dir)
}
