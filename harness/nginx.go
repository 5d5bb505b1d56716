package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/harness/daemon"
	"github.com/mtlsgate/mtlsgate/harness/nginxconf"
	"github.com/mtlsgate/mtlsgate/internal/serve"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// nginxProduct is the token the nginx target's Via header announces.
const nginxProduct = "mtlsgate-nginx"

// NginxTarget certifies nginx (its OpenSSL TLS stack, its proxy) for the Kong profile's client
// side and upstream TLS. The suites configure it through mtlsgate's own Admin API store; every
// accepted change is rendered to an nginx.conf (harness/nginxconf) and nginx is reloaded before
// the Admin API answers, so the next request meets the new configuration. No Go code is in the
// request path.
type NginxTarget struct{}

// njsModule is Debian's path of nginx's njs module (libnginx-mod-http-js).
const njsModule = "/usr/lib/nginx/modules/ngx_http_js_module.so"

// NginxNJSEnv set to "off" renders for a stock nginx even where the njs module is installed, to
// certify what nginx does without it.
const NginxNJSEnv = "MTLSGATE_NGINX_NJS"

// hasNJS reports whether the njs module is installed and not turned off: without it nginx
// exposes no SANs.
func hasNJS() bool {
	if os.Getenv(NginxNJSEnv) == "off" {
		return false
	}
	_, err := os.Stat(njsModule)
	return err == nil
}

// nginxClaims are the Kong behaviours the nginx target does not claim, and why.
func nginxClaims() map[catalog.ID]string {
	out := map[catalog.ID]string{
		"K-ADM-4":   "DB-less mode (declarative_config, POST /config) is not rendered: the nginx target keeps its entities in mtlsgate's Admin API store",
		"K-MTLS-8":  "nginx does not fetch CRLs from certificates' distribution points",
		"K-H2-1":    nginxNoHTTP2,
		"K-MTLS-9":  "nginx has no partial-chain setting, and ssl_client_certificate always sends the CA names (send_ca_dn cannot be false)",
		"K-PROXY-1": "stock nginx cannot compute X-Kong-Proxy-Latency nor set its Server header (no headers-more module), and its Via names the nginx target, not mtlsgate/<version>",
		"K-PROXY-2": "the rendered configuration has no Kong error_page for nginx's own 400 and 405, so those answers carry nginx's HTML page, not Kong's JSON message",
		"K-UP-6":    "nginx resolves upstream hosts when it loads a configuration (an unknown host refuses the configuration instead of answering 503), and an upstream without targets is rendered, not balanced",
	}
	if !hasNJS() {
		const why = "nginx exposes the certificate's SANs only through the njs module, which is not installed (apt-get install -y libnginx-mod-http-js) or turned off (" + NginxNJSEnv + "=off)"
		out["K-MTLS-4"] = why + ": consumers would be looked up by the subject CN alone"
		out["K-MTLS-5"] = why + ": skip_consumer_lookup cannot set X-Client-Cert-SAN"
		out["K-MTLS-7"] = why + ": skip_consumer_lookup (authenticated groups) is refused without it"
	}
	return out
}

// Name implements Target.
func (*NginxTarget) Name() string { return "nginx" }

// nginxClaimed are the Kong behaviours the nginx target claims (by allow-list: a new catalogue
// ID is not claimed until it has been shown on nginx); nginxClaims may still withdraw one.
func nginxClaimed() []catalog.ID {
	return []catalog.ID{"K-MTLS-1", "K-MTLS-2", "K-MTLS-3", "K-MTLS-4", "K-MTLS-5", "K-MTLS-6", "K-MTLS-7",
		"K-UP-1", "K-UP-2", "K-UP-3", "K-UP-4", "K-UP-5", "K-SNI-1", "K-SNI-2", "K-TLS-1"}
}

// Claims implements Target.
func (t *NginxTarget) Claims(id catalog.ID) (bool, string) { return t.claims(catalog.Lookup, id) }

func (t *NginxTarget) claims(lookup lookupFunc, id catalog.ID) (bool, string) {
	b, ok := lookup(id)
	if ok && b.Profile != catalog.Kong {
		return false, "the nginx target implements the kong profile only"
	}
	if ok && b.Feature == catalog.AdminAPI {
		return false, "the Admin API is mtlsgate's façade in front of nginx, not nginx's (certified on the reference target)"
	}
	return allowList(lookup, t.Name(), id, nginxClaimed(), nginxClaims())
}

// Supports implements Target.
func (*NginxTarget) Supports(f catalog.Feature) (bool, string) {
	switch f {
	case catalog.Revocation:
		return false, "nginx does not fetch CRLs from certificates' distribution points"
	case catalog.READMEReplay:
		return false, "the README walkthroughs start mtlsgate's own gateway"
	case catalog.HTTP2:
		return false, nginxNoHTTP2
	}
	return true, ""
}

// nginxNoHTTP2 is why the nginx target makes no HTTP/2 claim.
const nginxNoHTTP2 = "the rendered nginx configuration does not enable http2 on its listeners"

// nginxConfKeys are the kong.conf keys the nginx target renders; any other is refused.
func nginxConfKeys() []string {
	return []string{"client_ssl", "client_ssl_cert", "client_ssl_cert_key", "ssl_cert", "ssl_cert_key",
		"ssl_cipher_suite", "ssl_protocols", "ssl_ciphers",
		"nginx_proxy_proxy_ssl_verify", "nginx_proxy_proxy_ssl_trusted_certificate", "nginx_proxy_proxy_ssl_verify_depth",
		"nginx_http_proxy_ssl_verify", "nginx_http_proxy_ssl_trusted_certificate", "nginx_http_proxy_ssl_verify_depth",
	}
}

// systemTrust is Debian's CA bundle, nginx's trust store for a service that verifies its upstream
// without naming a CA.
const systemTrust = "/etc/ssl/certs/ca-certificates.crt"

// StartKong implements KongTarget: the mock upstreams, the Admin API store, and nginx rendered
// from it.
func (t *NginxTarget) StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start nginx: KongSetup.PKI is required")
	}
	bin, err := daemon.Lookup("nginx")
	if err != nil {
		return nil, fmt.Errorf("start nginx: nginx not found: apt-get install -y nginx")
	}
	settings, err := nginxSettings(setup.Conf)
	if err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	ver, err := nginxVersion(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	settings.Via = "1.1 " + nginxProduct + " (" + ver + ")"

	var closers cleanups
	stop := closers.run
	fail := func(err error) (*KongSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	ups, err := startLocalUpstreams(ctx, setup.PKI)
	if err != nil {
		return fail(err)
	}
	closers.add(ups.Close)

	g, err := startNginx(ctx, bin, settings)
	if err != nil {
		return fail(err)
	}
	closers.add(g.close)
	api := admin.NewAPI(g.db, admin.APIOptions{Server: version.Server, Info: func() map[string]any {
		return map[string]any{"version": version.Version, "configuration": map[string]any{"database": "off", "nginx": ver}}
	}})
	adminSrv, err := serve.Listen(ctx, "127.0.0.1:0", api, serve.Options{})
	if err != nil {
		return fail(fmt.Errorf("start the Admin API: %w", err))
	}
	closers.add(adminSrv.Close)
	sys := &KongSystem{
		Version: ver + " (rendered by mtlsgate " + version.Version + ")", Product: nginxProduct,
		ProxyURL: "http://" + g.settings.ProxyAddr, ProxyTLSURL: "https://" + g.settings.ProxyTLSAddr, ProxyTLSListenPort: portOf(g.settings.ProxyTLSAddr),
		AdminURL: adminSrv.URL(), Admin: kongapi.New(adminSrv.URL(), nil),
		stop: stop,
	}
	ups.fill(sys)
	// nginx (1.22) checks an upstream certificate's name with X509_check_host only, never
	// against IP SANs, so with proxy_ssl_verify an upstream addressed as 127.0.0.1 always fails:
	// the TLS upstreams are addressed by name, as deployments address them.
	for _, u := range []*string{&sys.EchoTLSURL, &sys.MTLSEchoURL, &sys.CRLTLSBaseURL} {
		*u = strings.Replace(*u, "://127.0.0.1:", "://localhost:", 1)
	}
	return sys, nil
}

// nginxSettings reads the suite's kong.conf lines into what the renderer needs; a key the nginx
// target does not render is refused, not ignored.
func nginxSettings(lines []string) (nginxconf.Settings, error) {
	var s nginxconf.Settings
	for _, l := range lines {
		k, _, _ := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		if !slices.Contains(nginxConfKeys(), k) {
			return s, fmt.Errorf("kong.conf %s: the nginx target does not render it (it renders %s)", k, strings.Join(nginxConfKeys(), ", "))
		}
	}
	conf, err := kongconf.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "kong.conf (nginx target)", nil)
	if err != nil {
		return s, err
	}
	if s.TLS, err = nginxconf.PolicyFor(conf.SSLCipherSuite, conf.SSLProtocols, conf.SSLCiphers); err != nil {
		return s, err
	}
	for i := range conf.SSLCert {
		if i >= len(conf.SSLCertKey) {
			break
		}
		kp, err := readPair("ssl_cert", conf.SSLCert[i], conf.SSLCertKey[i])
		if err != nil {
			return s, err
		}
		s.ServerCerts = append(s.ServerCerts, kp)
	}
	if len(s.ServerCerts) == 0 {
		certPEM, keyPEM, err := kong.DefaultCertificate()
		if err != nil {
			return s, err
		}
		s.ServerCerts = []nginxconf.KeyPair{{Cert: certPEM, Key: keyPEM}}
	}
	if conf.ClientSSL {
		kp, err := readPair("client_ssl_cert", conf.ClientSSLCert, conf.ClientSSLCertKey)
		if err != nil {
			return s, err
		}
		s.ClientCert = &kp
	}
	s.Verify, s.VerifyDepth = conf.ProxySSLVerify, conf.ProxySSLVerifyDepth
	if conf.ProxySSLTrustedCertificate != "" {
		if s.TrustedPEM, err = kongconf.ReadPEM(conf.ProxySSLTrustedCertificate); err != nil {
			return s, fmt.Errorf("proxy_ssl_trusted_certificate: failed loading certificate from %s", conf.ProxySSLTrustedCertificate)
		}
	}
	if _, err := os.Stat(systemTrust); err == nil {
		s.SystemTrust = systemTrust
	}
	if hasNJS() {
		s.NJSModule = njsModule
	}
	return s, nil
}

// readPair reads a kong.conf certificate and key (path, PEM or base64 PEM).
func readPair(name, cert, key string) (nginxconf.KeyPair, error) {
	c, err := kongconf.ReadPEM(cert)
	if err != nil {
		return nginxconf.KeyPair{}, fmt.Errorf("%s: failed loading certificate from %s", name, cert)
	}
	k, err := kongconf.ReadPEM(key)
	if err != nil {
		return nginxconf.KeyPair{}, fmt.Errorf("%s_key: failed loading key from %s", name, key)
	}
	return nginxconf.KeyPair{Cert: c, Key: k}, nil
}

// nginxVersion is "nginx/1.22.1", from nginx -v.
func nginxVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %w: %s", bin, err, out)
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "version: ")
	if !ok {
		return "", fmt.Errorf("%s -v: unexpected answer %q", bin, out)
	}
	return v, nil
}

// nginxGateway is one nginx process and the Admin API store it is rendered from.
type nginxGateway struct {
	dir      string
	settings nginxconf.Settings
	db       *admin.DB
	sup      *daemon.Supervisor
	// mu guards hash; the store already serializes writes.
	mu   sync.Mutex
	hash string
}

// startNginx binds free loopback ports, renders the empty configuration and starts nginx on it.
// A port taken between choosing and binding is retried with new ports, three times at most.
func startNginx(ctx context.Context, bin string, settings nginxconf.Settings) (*nginxGateway, error) {
	var lastErr error
	for range 3 {
		addrs, err := freeLoopbackAddrs(ctx, 3)
		if err != nil {
			return nil, err
		}
		settings.ProxyAddr, settings.ProxyTLSAddr, settings.StatusAddr = addrs[0], addrs[1], addrs[2]
		g, err := startNginxOn(ctx, bin, settings)
		if err == nil {
			return g, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

func startNginxOn(ctx context.Context, bin string, settings nginxconf.Settings) (*nginxGateway, error) {
	dir, err := os.MkdirTemp("", "mtlsgate-nginx-")
	if err != nil {
		return nil, fmt.Errorf("make the nginx prefix directory: %w", err)
	}
	// nginx's workers run as nobody when the master is root: they must reach the prefix.
	for _, d := range []string{dir, filepath.Join(dir, "logs"), filepath.Join(dir, "conf"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err == nil {
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("make the nginx prefix directory: %w", err)
		}
	}
	g := &nginxGateway{dir: dir, settings: settings}
	g.sup = daemon.NewSupervisor(daemon.SupervisorOptions{
		Options: daemon.Options{
			Name: "nginx", Path: bin, Dir: dir, LogFile: "logs/stderr.log",
			Args:         []string{"-p", dir + "/", "-c", "nginx.conf", "-e", "logs/error.log", "-g", "daemon off;"},
			ReloadSignal: syscall.SIGHUP, StopSignal: syscall.SIGQUIT,
			ProbeURL: "http://" + settings.StatusAddr + nginxconf.GenerationPath,
		},
		ConfigFile: "nginx.conf",
		Check: func(ctx context.Context, candidate string) error {
			if out, err := exec.CommandContext(ctx, bin, "-t", "-q", "-p", dir+"/", "-c", candidate, "-e", "logs/error.log").CombinedOutput(); err != nil {
				return fmt.Errorf("nginx refused the rendered configuration (nginx -t): %s", strings.TrimSpace(string(out)))
			}
			return nil
		},
	})
	// admin.New applies the empty snapshot first, which renders the configuration nginx starts on.
	if g.db, err = admin.New(admin.Options{Apply: g.apply, Plugins: kong.PluginSchemas()}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := g.sup.Start(ctx); err != nil {
		tail := readTail(filepath.Join(dir, "logs", "error.log"))
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\n%s", err, tail)
	}
	return g, nil
}

// nginxApplyTimeout bounds one Admin API change's check and reload (the store's Apply hook has
// no context of its own).
const nginxApplyTimeout = 20 * time.Second

// apply is the store's Apply hook: render, check with nginx -t, reload and wait until nginx
// serves the new generation. An error rejects the Admin API change, and nginx keeps serving the
// last good configuration.
func (g *nginxGateway) apply(snap *admin.Snapshot) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := nginxconf.Render(snap, g.settings)
	if err != nil {
		return err
	}
	if g.hash == r.Hash && g.sup.Generation() > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), nginxApplyTimeout)
	defer cancel()
	err = g.sup.Apply(ctx, func(gen uint64) (daemon.Rendering, error) {
		return daemon.Rendering{Main: []byte(r.Config(gen)), Files: r.Files}, nil
	}, nil)
	if err != nil {
		return err
	}
	g.hash = r.Hash
	return nil
}

// close stops nginx and removes its prefix directory.
func (g *nginxGateway) close(ctx context.Context) error {
	return errors.Join(g.sup.Stop(ctx), os.RemoveAll(g.dir))
}

// freeLoopbackAddrs returns n 127.0.0.1 addresses that were free a moment ago.
func freeLoopbackAddrs(ctx context.Context, n int) ([]string, error) {
	var lc net.ListenConfig
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// readTail is the last lines of a log file, for start-up errors.
func readTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
