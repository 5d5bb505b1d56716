package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// Kong-profile container ports and aliases: the gateway listens on Kong's default ports inside
// its container; the upstreams are reached by name on the run's network.
const (
	containerProxyPort    = "8000/tcp"
	containerProxyTLSPort = "8443/tcp"
	containerAdminPort    = "8001/tcp"
	containerStatusPort   = "8100/tcp"
	echoAlias             = "echo"
	mtlsEchoAlias         = "mtls-echo"
	gatewayAlias          = "kong"
)

// engineOnce connects to Docker once per target value.
type engineOnce struct {
	mu     sync.Mutex
	engine *containers.Engine
}

func (o *engineOnce) get(ctx context.Context) (*containers.Engine, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.engine != nil {
		return o.engine, nil
	}
	e, err := containers.Connect(ctx)
	if err != nil {
		return nil, err
	}
	o.engine = e
	return e, nil
}

// ReferenceContainerTarget runs the reference gateway and its upstreams as containers built
// FROM scratch from this checkout, on a network of their own: the same binaries as the in-process
// target, across real container networking.
type ReferenceContainerTarget struct {
	engine engineOnce
	ups    kongUpstreams
}

// Name implements Target.
func (*ReferenceContainerTarget) Name() string { return "reference-container" }

// Claims implements Target: the Kong, ALB and Load behaviours the mtlsgate image has been run
// against, by allow-list (the ALB profile through StartALB in container_alb.go).
func (t *ReferenceContainerTarget) Claims(id catalog.ID) (bool, string) {
	return t.claims(catalog.Lookup, id)
}

func (t *ReferenceContainerTarget) claims(lookup lookupFunc, id catalog.ID) (bool, string) {
	return allowList(lookup, t.Name(), id, referenceContainerBehaviours(), nil)
}

// Supports implements Target.
func (*ReferenceContainerTarget) Supports(catalog.Feature) (bool, string) { return true, "" }

// StartKong implements KongTarget.
func (t *ReferenceContainerTarget) StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error) {
	eng, err := t.engine.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", t.Name(), err)
	}
	img, err := eng.MtlsgateImage(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", t.Name(), err)
	}
	return startContainerKong(ctx, eng, &t.ups, img, setup, gatewayImage{ref: img, reference: true, version: "mtlsgate " + version.Version}, nil)
}

// gatewayImage is the image of the Kong-profile gateway to run and how to run it.
type gatewayImage struct {
	ref string
	// reference is the mtlsgate image: it runs "serve kong" and keeps entities in memory.
	reference bool
	version   string
	// env is added to the gateway's environment (KONG_LICENSE_DATA, say).
	env map[string]string
}

// kongUpstreams are the network and upstream containers (echo, mtls-echo) that every gateway
// of one target shares; they stay up while any gateway uses them, so a spec that needs its own
// gateway (another kong.conf) starts one container, not three.
type kongUpstreams struct {
	mu       sync.Mutex
	refs     int
	gateways int
	// keep counts the holds of KeepShared: while any is held, the containers outlive their
	// last user (a suite starting a system per spec starts them once).
	keep     int
	pki      *fixtures.PKI
	nw       *containers.Network
	echo     *containers.Container
	mtls     *containers.Container
	gws      []*sharedAPIGW // API Gateway stand-ins kept for ALB systems (container_shared.go)
	lbs      []*sharedALB   // load balancers kept for ALB systems, each restarted by the next (container_shared.go)
	echoURL  string         // the echo as the suite reaches it, for its CRL control
	pkiFiles []containers.File
}

// acquire starts the shared containers if needed and returns a fresh gateway alias.
func (u *kongUpstreams) acquire(ctx context.Context, eng *containers.Engine, image string, p *fixtures.PKI) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.refs > 0 && u.pki != p {
		return "", errors.New("the upstream containers already serve another PKI; stop its systems first")
	}
	if u.refs == 0 && u.nw != nil && u.pki != p {
		// Kept up for another PKI (KeepShared) with nobody using them: start afresh.
		if err := u.stop(ctx); err != nil {
			return "", err
		}
	}
	if u.nw == nil {
		if err := u.start(ctx, eng, image, p); err != nil {
			u.stop(context.Background())
			return "", err
		}
	}
	u.refs++
	u.gateways++
	return fmt.Sprintf("%s-%d", gatewayAlias, u.gateways), nil
}

func (u *kongUpstreams) start(ctx context.Context, eng *containers.Engine, image string, p *fixtures.PKI) error {
	var err error
	u.pki = p
	if u.pkiFiles, err = pkiFiles(p); err != nil {
		return err
	}
	if u.nw, err = eng.NewNetwork(ctx); err != nil {
		return err
	}
	anyStatus := func(int) bool { return true }
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // readiness probe only
	u.echo, err = u.nw.Start(ctx, containers.Request{
		Image: image, Alias: echoAlias, Files: u.pkiFiles, Ports: []string{"8080/tcp", "8443/tcp"},
		Cmd: []string{"serve", "upstream", "--http", "0.0.0.0:8080", "--https", "0.0.0.0:8443",
			"--cert", "/pki/upstream-chain.pem", "--key", "/pki/upstream.key", "--crl-dir", "/pki", "--ocsp-dir", "/pki", "--name", "echo"},
		Wait: wait.ForHTTP("/anything").WithPort("8080/tcp"),
	})
	if err != nil {
		return err
	}
	if u.echoURL, err = u.echo.URL(ctx, "8080/tcp", "http"); err != nil {
		return err
	}
	u.mtls, err = u.nw.Start(ctx, containers.Request{
		Image: image, Alias: mtlsEchoAlias, Files: u.pkiFiles, Ports: []string{"8443/tcp"},
		Cmd: []string{"serve", "upstream", "--http", "", "--https", "0.0.0.0:8443",
			"--cert", "/pki/upstream-chain.pem", "--key", "/pki/upstream.key", "--client-ca", "/pki/ca.crt", "--name", "mtls-echo"},
		Wait: wait.ForHTTP("/anything").WithPort("8443/tcp").WithTLS(true, insecure).WithStatusCodeMatcher(anyStatus),
	})
	return err
}

// release drops one user; the last one stops the containers and removes the network, unless
// KeepShared holds them.
func (u *kongUpstreams) release(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refs--
	if u.refs > 0 || u.keep > 0 {
		return nil
	}
	return u.stop(ctx)
}

func (u *kongUpstreams) stop(ctx context.Context) error {
	var errs []error
	var kept []*containers.Container
	for _, lb := range u.lbs {
		kept = append(kept, lb.c)
	}
	for _, gw := range u.gws {
		kept = append(kept, gw.c)
	}
	for _, c := range append(kept, u.mtls, u.echo) {
		if c != nil {
			errs = append(errs, c.Terminate(ctx))
		}
	}
	if u.nw != nil {
		errs = append(errs, u.nw.Remove(ctx))
	}
	u.echo, u.mtls, u.gws, u.lbs, u.nw, u.pki = nil, nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// startContainerKong starts a gateway container next to the shared upstreams, configured
// through KONG_* variables exactly as the Kong image reads them. before runs first with the
// network and the gateway's alias (real Kong starts its database there) and returns what to
// stop afterwards.
func startContainerKong(ctx context.Context, eng *containers.Engine, ups *kongUpstreams, mtlsgateImage string, setup KongSetup, gw gatewayImage,
	before func(ctx context.Context, nw *containers.Network, alias string) (map[string]string, func(context.Context) error, error)) (*KongSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start container kong: KongSetup.PKI is required")
	}
	env, files, err := kongEnv(setup.Conf)
	if err != nil {
		return nil, fmt.Errorf("start container kong: %w", err)
	}
	alias, err := ups.acquire(ctx, eng, mtlsgateImage, setup.PKI)
	if err != nil {
		return nil, fmt.Errorf("start container kong: %w", err)
	}
	stops := []func(context.Context) error{ups.release}
	stop := func(ctx context.Context) error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](ctx))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*KongSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start container kong: %w", err)
	}
	for k, v := range gw.env {
		env[k] = v
	}
	if h := dockerHostName(); gw.reference && h != "" {
		// The suite reaches the Admin API through the Docker host's name; mtlsgate answers only
		// names it was given (K-ADM-5).
		env["MTLSGATE_ADMIN_HOSTS"] = h
	}
	if before != nil {
		extra, after, err := before(ctx, ups.nw, alias)
		if after != nil {
			stops = append(stops, after)
		}
		if err != nil {
			return fail(err)
		}
		for k, v := range extra {
			env[k] = v
		}
	}
	req := containers.Request{
		Image: gw.ref, Alias: alias, Env: env, Files: append(files, ups.pkiFiles...),
		Ports: []string{containerProxyPort, containerProxyTLSPort, containerAdminPort, containerStatusPort},
		Wait:  wait.ForHTTP("/status/ready").WithPort(containerStatusPort),
	}
	if gw.reference {
		req.Cmd = []string{"serve", "kong"}
	}
	kong, err := ups.nw.Start(ctx, req)
	if kong != nil {
		stops = append(stops, kong.Terminate)
	}
	if err != nil {
		return fail(err)
	}
	urls := map[string]string{}
	for name, p := range map[string]struct{ port, scheme string }{
		"proxy": {containerProxyPort, "http"}, "proxy-tls": {containerProxyTLSPort, "https"}, "admin": {containerAdminPort, "http"},
	} {
		u, err := kong.URL(ctx, p.port, p.scheme)
		if err != nil {
			return fail(err)
		}
		urls[name] = u
	}
	admin := kongapi.New(urls["admin"], &http.Client{})
	sysVersion, product := gw.version, ""
	if gw.reference {
		product = version.Server
	}
	if !gw.reference {
		if info, err := admin.Info(ctx); err == nil {
			if v, ok := info["version"].(string); ok {
				sysVersion, product = "kong "+v, "kong/"+v
			}
		}
	}
	return &KongSystem{
		Version: sysVersion, Product: product, ProxyURL: urls["proxy"], ProxyTLSURL: urls["proxy-tls"], ProxyTLSListenPort: "8443",
		AdminURL: urls["admin"], Admin: admin,
		EchoURL: "http://" + echoAlias + ":8080", EchoTLSURL: "https://" + echoAlias + ":8443", MTLSEchoURL: "https://" + mtlsEchoAlias + ":8443",
		CRLBaseURL: "http://" + echoAlias + ":8080", CRLTLSBaseURL: "https://" + echoAlias + ":8443", CRL: upstream.NewCRLControl(ups.echoURL), OCSP: upstream.NewOCSPControl(ups.echoURL),
		stop: stop,
	}, nil
}

// pkiFiles is the PKI as files under /pki.
func pkiFiles(p *fixtures.PKI) ([]containers.File, error) {
	dir, err := os.MkdirTemp("", "mtlsgate-pki-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := p.WriteDir(dir); err != nil {
		return nil, err
	}
	return containers.DirFiles(dir, "/pki")
}

// dockerHostName is the name mapped container ports are reached by when it is not an IP address
// or localhost: TESTCONTAINERS_HOST_OVERRIDE, else DOCKER_HOST's host; "" otherwise.
func dockerHostName() string {
	h := os.Getenv("TESTCONTAINERS_HOST_OVERRIDE")
	if h == "" {
		if u, err := url.Parse(os.Getenv("DOCKER_HOST")); err == nil && (u.Scheme == "tcp" || u.Scheme == "http" || u.Scheme == "https") {
			h = u.Hostname()
		}
	}
	if h == "" || h == "localhost" || net.ParseIP(h) != nil {
		return ""
	}
	return h
}

// containerListen rewrites a proxy_listen line for the container: each listener keeps its flags
// (ssl, http2, …) but binds the container port the target publishes (8443 for ssl, 8000
// otherwise), since an address such as 127.0.0.1:0 inside the container is unreachable from the
// host. Other lines are returned as they are.
func containerListen(line string) (string, error) {
	k, v, ok := strings.Cut(line, "=")
	if !ok || strings.TrimSpace(k) != "proxy_listen" {
		return line, nil
	}
	var out []string
	used := map[string]bool{}
	for _, entry := range strings.Split(v, ",") {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		port := "0.0.0.0:8000"
		if slices.Contains(fields[1:], "ssl") {
			port = "0.0.0.0:8443"
		}
		if used[port] {
			return "", fmt.Errorf("proxy_listen %q: the container target publishes one plain and one ssl proxy listener", strings.TrimSpace(v))
		}
		used[port] = true
		out = append(out, strings.Join(append([]string{port}, fields[1:]...), " "))
	}
	return "proxy_listen = " + strings.Join(out, ", "), nil
}

// kongEnv turns kong.conf lines into the KONG_* variables Kong reads, and copies every file a
// value names into the container at the same path, so the lines work unchanged. It checks them
// with mtlsgate's kong.conf reader first, so a bad line fails the same way on every target.
func kongEnv(lines []string) (map[string]string, []containers.File, error) {
	base := []string{
		"proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 http2 ssl",
		"admin_listen = 0.0.0.0:8001",
		"status_listen = 0.0.0.0:8100",
	}
	var all []string
	all = append(all, base...)
	for _, l := range lines {
		l, err := containerListen(l)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, l)
	}
	if _, err := kongconf.Parse(strings.NewReader(strings.Join(all, "\n")+"\n"), "kong.conf", nil); err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	var files []containers.File
	seen := map[string]bool{}
	for _, l := range all {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		env["KONG_"+strings.ToUpper(k)] = strings.ReplaceAll(v, `\n`, "\n")
		for _, part := range strings.Split(v, ",") {
			p := strings.TrimSpace(part)
			if !strings.HasPrefix(p, "/") || seen[p] {
				continue
			}
			if b, err := os.ReadFile(p); err == nil {
				seen[p] = true
				files = append(files, containers.File{Path: p, Content: b})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return env, files, nil
}
