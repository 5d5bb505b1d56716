package harness

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/harness/daemon"
	"github.com/mtlsgate/mtlsgate/harness/haproxyconf"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// HAProxyTarget certifies HAProxy (its OpenSSL TLS stack, its proxy and health checks) for the
// ALB profile: the scenario is rendered to an haproxy.cfg (harness/haproxyconf) and HAProxy runs
// as a master-worker process on loopback; every Apply re-renders, checks with haproxy -c and
// reloads. No Go code is in the request path.
type HAProxyTarget struct{}

// haproxyUnclaimed are the ALB behaviours HAProxy does not do as the specs check them, and why.
// Every other ALB ID (A-MODE-1, A-MODE-2, A-HDR-1, A-HDR-2, A-TG-1) is claimed because HAProxy
// itself does it: its OpenSSL asks for and verifies the certificate, its converters and a
// rendered Lua fetch write the headers, its health checks and backup servers pick targets.
func haproxyUnclaimed() map[catalog.ID]string {
	return map[catalog.ID]string{
		"A-TS-1": "ALB's trust-store loading rules and messages (basic constraints, InvalidCaCertificatesBundle, at most 25 CAs of 16 KB) are mtlsgate's validation, not HAProxy's: HAProxy loads any PEM OpenSSL can read",
		"A-TS-2": "HAProxy loads any CRL OpenSSL can read (no InvalidRevocationContent, no 30-list limit, a CRL of an issuer outside the bundle is accepted), " +
			"and OpenSSL revokes a certificate whose negative serial a CRL lists; a CRL added by a reload does revoke for new handshakes",
		"A-MODE-3": "OpenSSL answers each verify failure with its own alert (unknown_ca, certificate_required, certificate_expired, certificate_revoked, …), not ALB's bad_certificate, " +
			"and HAProxy 2.6 has no verify-depth setting, so a chain deeper than 4 is accepted",
		"A-POL-1":   "Debian 12's HAProxy links OpenSSL 3.0, which has no X25519MLKEM768 group: haproxy -c refuses ELBSecurityPolicy-TLS13-1-3-PQ-2025-09's curves (the other eight policies pass their specs)",
		"A-H2-1":    haproxyNoHTTP2,
		"A-CERT-1":  "OpenSSL accepts Ed25519 client certificates (ssl_c_verify 0, the request reaches the target); RSA-1024 and SHA-1 are refused only through Debian's OpenSSL security level 2",
		"A-LOG-1":   "HAProxy logs per request in its own log-format: it cannot write ALB's connection-log line (one per connection including failed handshakes, TID_ trace ids, the negotiated group, Failed:<code> names)",
		"A-API-1":   "HAProxy is configured through its own configuration file; AWS's ELBv2 API is the emulator's, certified on the reference target",
		"A-HDR-3":   "HAProxy forwards header names with underscores, and haproxyconf deletes the X-Amzn-Mtls-* headers by their exact names only",
		"A-REQ-1":   "haproxyconf renders fixed timeouts (timeout server 60s, timeout client 30s), not the idle_timeout.timeout_seconds load balancer attribute, and HAProxy's own 400/405/408/504 pages are not ALB's",
		"A-APIGW-1": "the stand-in is reached through HAProxy correctly (the direct and through-the-listener specs pass), but the seed story also needs A-TS-1's basic-constraints refusal, which is mtlsgate's validation, not HAProxy's",
	}
}

// Name implements Target.
func (*HAProxyTarget) Name() string { return "haproxy" }

// haproxyClaimed are the ALB behaviours the haproxy target claims, by allow-list: a new
// catalogue ID is not claimed until it has been shown on HAProxy.
func haproxyClaimed() []catalog.ID {
	return []catalog.ID{"A-MODE-1", "A-MODE-2", "A-HDR-1", "A-HDR-2", "A-TG-1"}
}

// Claims implements Target.
func (t *HAProxyTarget) Claims(id catalog.ID) (bool, string) { return t.claims(catalog.Lookup, id) }

func (t *HAProxyTarget) claims(lookup lookupFunc, id catalog.ID) (bool, string) {
	if b, ok := lookup(id); ok && b.Profile != catalog.ALB {
		return false, "the haproxy target implements the alb profile only"
	}
	return allowList(lookup, t.Name(), id, haproxyClaimed(), haproxyUnclaimed())
}

// Supports implements Target.
func (*HAProxyTarget) Supports(f catalog.Feature) (bool, string) {
	switch f {
	case catalog.ConnectionLog:
		return false, haproxyUnclaimed()["A-LOG-1"]
	case catalog.TrustStore:
		return false, haproxyUnclaimed()["A-TS-1"]
	case catalog.READMEReplay:
		return false, "the README walkthroughs start mtlsgate's own gateway"
	case catalog.HTTP2:
		return false, haproxyNoHTTP2
	}
	return true, ""
}

// haproxyNoHTTP2 is why the haproxy target makes no HTTP/2 claim.
const haproxyNoHTTP2 = "the rendered HAProxy bind offers ALPN http/1.1 only"

// StartALB implements ALBTarget: the echo upstream, the API Gateway stand-in, and HAProxy
// rendered from the scenario.
func (t *HAProxyTarget) StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start haproxy: ALBSetup.PKI is required")
	}
	bin, err := daemon.Lookup("haproxy")
	if err != nil {
		return nil, errors.New("start haproxy: haproxy not found: apt-get install -y haproxy")
	}
	ver, err := haproxyVersion(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	var closers cleanups
	stop := closers.run
	fail := func(err error) (*ALBSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	sys, err := startALBUpstreams(ctx, setup, &closers)
	if err != nil {
		return fail(err)
	}
	sys.Version = ver + " (rendered by mtlsgate " + version.Version + ")"
	// A free port another process takes between choosing and binding is retried with new ports,
	// three times at most.
	var lb *haproxyLB
	for range 3 {
		if lb, err = startHAProxy(ctx, bin, sys.Resolve(setup.Config)); err == nil || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	closers.add(lb.close)
	for _, a := range lb.listenAddrs {
		sys.ListenerURLs = append(sys.ListenerURLs, "https://"+a)
	}
	sys.apply = lb.apply
	sys.health = lb.targetHealth
	sys.stop = stop
	return sys, nil
}

// haproxyVersion is "HAProxy 2.6.12-1+deb12u4", from haproxy -v.
func haproxyVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %w: %s", bin, err, out)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 || f[1] != "version" {
		return "", fmt.Errorf("%s -v: unexpected answer %q", bin, out)
	}
	return "HAProxy " + f[2], nil
}

// haproxyLB is one HAProxy master process and the configuration it serves.
type haproxyLB struct {
	dir       string
	probeAddr string
	client    *http.Client
	sup       *daemon.Supervisor
	// mu guards everything below; apply and targetHealth may run concurrently.
	mu          sync.Mutex
	listenAddrs []string
	backends    map[string]haproxyconf.Backend
}

// startHAProxy renders cfg as generation 1, checks it and starts HAProxy on it. Listeners with
// Port 0 get free loopback ports, kept across reloads.
func startHAProxy(ctx context.Context, bin string, cfg alb.Config) (*haproxyLB, error) {
	dir, err := os.MkdirTemp("", "mtlsgate-haproxy-")
	if err != nil {
		return nil, fmt.Errorf("make the haproxy directory: %w", err)
	}
	addrs, err := freeLoopbackAddrs(ctx, 1)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	lb := &haproxyLB{dir: dir, probeAddr: addrs[0],
		client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	lb.sup = daemon.NewSupervisor(daemon.SupervisorOptions{
		Options: daemon.Options{
			Name: "haproxy", Path: bin, Dir: dir, LogFile: "haproxy.log",
			// -W master-worker (reload by SIGUSR2), -db stays in the foreground.
			Args:         []string{"-W", "-db", "-f", filepath.Join(dir, "haproxy.cfg")},
			ReloadSignal: syscall.SIGUSR2, StopSignal: syscall.SIGTERM,
			ProbeURL: "http://" + lb.probeAddr + haproxyconf.GenerationPath,
		},
		ConfigFile: "haproxy.cfg",
		Check: func(ctx context.Context, candidate string) error {
			if out, err := exec.CommandContext(ctx, bin, "-c", "-f", filepath.Join(dir, candidate)).CombinedOutput(); err != nil {
				return fmt.Errorf("haproxy refused the rendered configuration (haproxy -c): %s", haproxyAlerts(out))
			}
			return nil
		},
	})
	if err := lb.writeServerState(nil); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := lb.applyLocked(ctx, cfg, nil); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := lb.sup.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return lb, nil
}

// applyLocked renders cfg as the next generation, checks it with haproxy -c, runs beforeSwap,
// and swaps and reloads through the supervisor; lb.mu is held (or lb not yet shared).
func (lb *haproxyLB) applyLocked(ctx context.Context, cfg alb.Config, beforeSwap func(context.Context) error) error {
	listen, err := lb.listenAddrsFor(ctx, cfg)
	if err != nil {
		return err
	}
	var backends map[string]haproxyconf.Backend
	err = lb.sup.Apply(ctx, func(gen uint64) (daemon.Rendering, error) {
		r, err := haproxyconf.Render(haproxyconf.Input{Config: cfg, ListenAddrs: listen, ProbeAddr: lb.probeAddr, Dir: lb.dir, Generation: gen})
		if err != nil {
			return daemon.Rendering{}, err
		}
		backends = r.Backends
		return daemon.Rendering{Main: []byte(r.Config), Files: r.Files}, nil
	}, beforeSwap)
	if err != nil {
		return err
	}
	lb.backends, lb.listenAddrs = backends, listen
	return nil
}

// haproxyAlerts keeps the lines of haproxy -c's output that say what is wrong (no NOTICE lines,
// no repeats).
func haproxyAlerts(out []byte) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "[NOTICE]") || strings.Contains(l, "Fatal errors found in configuration") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ") : "); ok && strings.HasPrefix(l, "[") {
			l = msg
		}
		l = strings.TrimPrefix(l, "config : ")
		if !slices.Contains(keep, l) {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(string(out))
	}
	return strings.Join(keep, "; ")
}

// listenAddrsFor keeps each listener's address from the running configuration (ALB keeps its
// bound port on a reload) and picks free loopback ports for new Port 0 listeners.
func (lb *haproxyLB) listenAddrsFor(ctx context.Context, cfg alb.Config) ([]string, error) {
	out := make([]string, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		host := l.Address
		if host == "" {
			host = "127.0.0.1"
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("Listeners[%d].Address %q: the haproxy target listens on loopback only (use 127.0.0.1)", i, l.Address)
		}
		switch {
		case l.Port != 0:
			out[i] = net.JoinHostPort(host, strconv.Itoa(l.Port))
		case i < len(lb.listenAddrs):
			out[i] = lb.listenAddrs[i]
		default:
			a, err := freeLoopbackAddrs(ctx, 1)
			if err != nil {
				return nil, err
			}
			out[i] = a[0]
		}
	}
	return out, nil
}

// apply re-renders, checks and reloads, and returns once the new generation serves. A
// configuration that does not render or that haproxy -c refuses changes nothing.
func (lb *haproxyLB) apply(ctx context.Context, cfg alb.Config) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.applyLocked(ctx, cfg, func(ctx context.Context) error {
		// Health-check results survive the reload for unchanged target groups; without a dump
		// the new workers start every server afresh, as after a restart (so a failed dump is no
		// error).
		state, _ := lb.dumpServerState(ctx)
		return lb.writeServerState(state)
	})
}

// dumpServerState asks the running workers for "show servers state" on the admin socket.
func (lb *haproxyLB) dumpServerState(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(lb.dir, haproxyconf.AdminSocket))
	if err != nil {
		return nil, fmt.Errorf("dump haproxy server state: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "show servers state\n"); err != nil {
		return nil, fmt.Errorf("dump haproxy server state: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(c, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("dump haproxy server state: %w", err)
	}
	if !strings.HasPrefix(string(b), "1\n") {
		return nil, fmt.Errorf("dump haproxy server state: unexpected answer %.80q", b)
	}
	return b, nil
}

// writeServerState replaces the server-state file the next workers load; nil writes an empty one.
func (lb *haproxyLB) writeServerState(state []byte) error {
	if state == nil {
		state = []byte(haproxyconf.EmptyServerState)
	}
	path := filepath.Join(lb.dir, haproxyconf.ServerStateFile)
	if err := os.WriteFile(path+".next", state, 0o600); err != nil {
		return fmt.Errorf("write haproxy server state: %w", err)
	}
	if err := os.Rename(path+".next", path); err != nil {
		return fmt.Errorf("write haproxy server state: %w", err)
	}
	return nil
}

// targetHealth is DescribeTargetHealth from HAProxy's statistics: each target's checked server.
func (lb *haproxyLB) targetHealth(group string) ([]alb.TargetHealth, error) {
	lb.mu.Lock()
	be, ok := lb.backends[group]
	lb.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("describe target health: no target group %q", group)
	}
	out := make([]alb.TargetHealth, len(be.Targets))
	for i, t := range be.Targets {
		out[i] = alb.TargetHealth{Id: t.Id, Port: t.Port, State: alb.StateUnused, Reason: "Target.HealthCheckDisabled", Description: "Health checks are disabled"}
	}
	if !be.Checked || len(be.Targets) == 0 {
		return out, nil
	}
	rows, err := lb.stats()
	if err != nil {
		return nil, fmt.Errorf("describe target health of %q: %w", group, err)
	}
	for i := range out {
		row, ok := rows[be.Name+"/t"+strconv.Itoa(i)]
		if !ok {
			return nil, fmt.Errorf("describe target health of %q: HAProxy's statistics have no server %s/t%d", group, be.Name, i)
		}
		out[i].State, out[i].Reason, out[i].Description = healthOf(row)
	}
	return out, nil
}

// healthOf maps a server's statistics (status, check_status, check_code) to ALB's target health.
func healthOf(row map[string]string) (state, reason, desc string) {
	status, check, code := row["status"], row["check_status"], row["check_code"]
	switch {
	case strings.HasPrefix(check, "INI") || check == "":
		return alb.StateInitial, "Elb.RegistrationInProgress", "Target registration is in progress"
	case strings.HasPrefix(status, "UP"), strings.HasPrefix(status, "NOLB"):
		// "UP 1/2" is a healthy server with one failed check: ALB too waits for the threshold.
		return alb.StateHealthy, "", ""
	}
	switch {
	case check == "L7STS":
		return alb.StateUnhealthy, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [" + code + "]"
	case strings.HasSuffix(check, "TOUT"):
		return alb.StateUnhealthy, "Target.Timeout", "Request timed out"
	}
	return alb.StateUnhealthy, "Target.FailedHealthChecks", "Health checks failed: " + check
}

// stats reads HAProxy's statistics CSV, keyed "backend/server".
func (lb *haproxyLB) stats() (map[string]map[string]string, error) {
	resp, err := lb.client.Get("http://" + lb.probeAddr + haproxyconf.StatsPath + ";csv")
	if err != nil {
		return nil, fmt.Errorf("read haproxy statistics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read haproxy statistics: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read haproxy statistics: %w", err)
	}
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "# ")))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("parse haproxy statistics: %v", err)
	}
	head := recs[0]
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(head) {
				row[head[i]] = v
			}
		}
		out[row["pxname"]+"/"+row["svname"]] = row
	}
	return out, nil
}

// close stops HAProxy and removes its directory.
func (lb *haproxyLB) close(ctx context.Context) error {
	return errors.Join(lb.sup.Stop(ctx), os.RemoveAll(lb.dir))
}
