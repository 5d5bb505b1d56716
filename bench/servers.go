package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/mtlsgate/mtlsgate/harness/daemon"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/suites/framework"
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

// process is one started server (or upstream) under harness/daemon, and its URL.
type process struct {
	proc *daemon.Process
	// url is the base URL of the mTLS listener (https://127.0.0.1:PORT).
	url string
	// pid is the process whose tree is the server (the nginx master, the mtlsgate process …).
	pid int
}

// The bench's bounds on its processes.
const (
	// echoStartTimeout bounds the echo upstream's start until it answers.
	echoStartTimeout = 15 * time.Second
	// adminStartTimeout bounds the reference's start until its Admin API answers.
	adminStartTimeout = 15 * time.Second
	// serverReadyTimeout bounds a server's start until an mTLS request through it reaches the echo.
	serverReadyTimeout = 20 * time.Second
	// stopGrace bounds a server's graceful stop before its process group is killed.
	stopGrace = 10 * time.Second
	// probeInterval is the pause between two readiness probes; a probe is a full mTLS
	// handshake, so it is slower than the harness's generation probe.
	probeInterval = 50 * time.Millisecond
)

// startProcess runs argv under harness/daemon in its own process group (so stop ends it with
// all its children), its output in logName inside dir, and waits for ready when it is set.
func startProcess(ctx context.Context, name, logName string, argv []string, dir string, ready daemon.Probe, timeout time.Duration) (*process, error) {
	p, err := daemon.Start(ctx, daemon.Options{
		Name: name, Path: argv[0], Args: argv[1:], Dir: dir, LogFile: logName,
		StopSignal: syscall.SIGTERM, Ready: ready, Timeout: timeout, StopGrace: stopGrace, ProbeInterval: probeInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &process{proc: p, pid: p.PID()}, nil
}

// stop ends the process gracefully, killing its process group after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = p.proc.Stop(ctx)
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

// startEcho runs `mtlsgate serve upstream` on a free port: the one upstream every server proxies to.
func startEcho(ctx context.Context, e *env) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	url := "http://" + addr
	probe := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/anything", nil)
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
	p, err := startProcess(ctx, "echo upstream", "echo.log", []string{e.binary, "serve", "upstream", "--http", addr}, e.work, probe, echoStartTimeout)
	if err != nil {
		return nil, err
	}
	p.url = url
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
		p, err = startALB(ctx, e, dir, port)
	case Nginx:
		p, err = startNginx(ctx, e, dir, port)
	case HAProxy:
		p, err = startHAProxy(ctx, e, dir, port)
	default:
		return nil, fmt.Errorf("unknown server %q (use %s)", name, strings.Join(AllServers(), ", "))
	}
	if err != nil {
		return nil, err
	}
	p.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	probe := func(ctx context.Context) error { return c.oneShot(ctx, p.url) }
	if err := p.proc.Await(ctx, "an mTLS request through it", serverReadyTimeout, probe); err != nil {
		p.stop(5 * time.Second)
		return nil, fmt.Errorf("start %s: %w", serverLabel(name), err)
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
	admin := kongapi.New(fmt.Sprintf("http://127.0.0.1:%d", adminPort), &http.Client{Timeout: 5 * time.Second})
	probe := func(ctx context.Context) error { _, err := admin.Info(ctx); return err }
	p, err := startProcess(ctx, serverLabel(Kong), "kong.log", []string{e.binary, "serve", "kong", "--conf", confPath, "--log-level", "warn"}, dir, probe, adminStartTimeout)
	if err != nil {
		return nil, err
	}
	if err := configureKong(ctx, admin, e); err != nil {
		p.stop(5 * time.Second)
		return nil, fmt.Errorf("configure reference (Kong mode): %w\n%s", err, p.proc.LogTail())
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
	noStrip := false
	_, err = framework.Walkthrough{
		CAPEM: caPEM, Plugin: map[string]any{"revocation_check_mode": "SKIP"},
		Name: "echo", ServiceURL: "http://" + e.echoAddr, Paths: []string{"/anything"}, StripPath: &noStrip,
		Consumers: []string{e.pki.clientCN},
	}.Apply(ctx, admin)
	return err
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

func startNginx(ctx context.Context, e *env, dir string, port int) (*process, error) {
	bin, err := daemon.Lookup("nginx")
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
	return startProcess(ctx, "nginx", "stderr.log", []string{bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-g", "daemon off;"}, dir, nil, serverReadyTimeout)
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

func startHAProxy(ctx context.Context, e *env, dir string, port int) (*process, error) {
	bin, err := daemon.Lookup("haproxy")
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
	return startProcess(ctx, "HAProxy", "haproxy.log", []string{bin, "-db", "-f", conf}, dir, nil, serverReadyTimeout)
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

func startALB(ctx context.Context, e *env, dir string, port int) (*process, error) {
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
	return startProcess(ctx, serverLabel(ALB), "alb.log", []string{e.binary, "serve", "alb", "--config", conf, "--log-level", "warn", "--watch-interval", "0"}, dir, nil, serverReadyTimeout)
}
