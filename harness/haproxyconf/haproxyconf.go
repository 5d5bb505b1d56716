// Package haproxyconf renders an ALB scenario (reference/alb's ELBv2-shaped Config) as an
// haproxy.cfg, so HAProxy and its OpenSSL do the ALB's work themselves: listeners with an ELB
// security policy, mutual TLS off, passthrough or verify with the trust store's CA bundle and
// CRLs, the X-Amzn-Mtls-* headers, and target groups with health checks. A setting HAProxy cannot
// express is refused with the field's name, never rendered approximately.
package haproxyconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// GenerationPath is the probe frontend's path that answers the configuration's generation, so the
// harness knows when a reload really serves.
const GenerationPath = "/generation"

// StatsPath is the probe frontend's path for HAProxy's statistics (CSV with ";csv"), where the
// harness reads health-check results for DescribeTargetHealth.
const StatsPath = "/stats"

// Names of the fixed files in Input.Dir: HAProxy's admin socket, and the server-state file a
// reload restores health-check results from (the harness dumps it before each reload, so a target
// group whose configuration did not change keeps its targets' health, as ALB's does).
const (
	AdminSocket     = "admin.sock"
	ServerStateFile = "server-state"
)

// EmptyServerState is a server-state file with no servers (HAProxy's version line only).
const EmptyServerState = "1\n"

// Input is what one rendering needs besides the scenario.
type Input struct {
	// Config is the scenario, with target Ids already resolved to addresses.
	Config alb.Config
	// ListenAddrs are the listeners' bind addresses (host:port), in Config.Listeners order: the
	// harness picks ports for Port 0 once and keeps them across reloads, as ALB keeps its port.
	ListenAddrs []string
	// ProbeAddr is the loopback address of the probe frontend (generation and statistics).
	ProbeAddr string
	// Dir is the absolute directory the rendered files will be written to.
	Dir string
	// Generation is written into the probe's answer, so a reload is known to be serving.
	Generation uint64
}

// Rendered is a configuration and the files it names.
type Rendered struct {
	// Config is haproxy.cfg's text.
	Config string
	// Files are written into Input.Dir under their names before HAProxy reads Config. Names
	// carry a content hash, so a file a running worker still uses is never overwritten.
	Files map[string][]byte
	// Backends maps every target group key (name and ARN) to its backend and the targets in
	// server order, for DescribeTargetHealth.
	Backends map[string]Backend
}

// Backend is one rendered target group, kept so HAProxy's servers can be mapped back to targets.
type Backend struct {
	// Name is the HAProxy backend; target i is its server "t<i>" (and backup "failopen<i>").
	Name string
	// Targets are the group's targets in server order.
	Targets []alb.Target
	// Checked is false when the group's health checks are disabled.
	Checked bool
}

// renderer accumulates the configuration text and its files.
type renderer struct {
	in    Input
	b     strings.Builder
	files map[string][]byte
}

// Render turns the scenario into an haproxy.cfg. Errors name the field and the fix, as the
// reference's do, and nothing is written.
func Render(in Input) (*Rendered, error) {
	cfg := in.Config
	if len(cfg.Listeners) == 0 {
		return nil, fmt.Errorf("Listeners: at least one listener is needed")
	}
	if len(in.ListenAddrs) != len(cfg.Listeners) {
		return nil, fmt.Errorf("render haproxy.cfg: %d listen addresses for %d listeners", len(in.ListenAddrs), len(cfg.Listeners))
	}
	if cfg.ConnectionLogs.Path != "" {
		return nil, fmt.Errorf("ConnectionLogs.Path %q: the haproxy target does not write ALB's connection log; leave it empty", cfg.ConnectionLogs.Path)
	}
	r := &renderer{in: in, files: map[string][]byte{}}
	lua := r.file("mtls.lua", []byte(luaScript))
	stores, err := r.trustStores(cfg.TrustStores)
	if err != nil {
		return nil, err
	}
	// ALB's policy towards targets follows the listener's (alb.BackendPolicy); a HAProxy backend
	// has one, so a group behind listeners that need different ones is refused.
	backendPolicy := map[string]string{}
	for i, l := range cfg.Listeners {
		pol, err := alb.LookupPolicy(l.SslPolicy)
		if err != nil || len(l.DefaultActions) != 1 {
			continue // listener() names the error
		}
		tg, want := l.DefaultActions[0].TargetGroupArn, alb.BackendPolicy(pol)
		if have, ok := backendPolicy[tg]; ok && have != want {
			return nil, fmt.Errorf("Listeners[%d]: target group %q is also behind a listener whose targets get %s; the haproxy target gives a target group one back-end policy (%s here)", i, tg, have, want)
		}
		backendPolicy[tg] = want
	}
	backends := map[string]Backend{}
	var groups strings.Builder
	for i, tg := range cfg.TargetGroups {
		policy := alb.TargetPolicy
		for _, key := range []string{tg.TargetGroupName, tg.TargetGroupArn} {
			if p, ok := backendPolicy[key]; ok && key != "" {
				policy = p
			}
		}
		be, text, err := r.targetGroup(i, tg, policy)
		if err != nil {
			return nil, err
		}
		for _, key := range []string{tg.TargetGroupName, tg.TargetGroupArn} {
			if key == "" {
				continue
			}
			if _, dup := backends[key]; dup {
				return nil, fmt.Errorf("TargetGroups[%d]: the name %q is used twice", i, key)
			}
			backends[key] = be
		}
		groups.WriteString(text)
	}
	var listeners strings.Builder
	for i, l := range cfg.Listeners {
		text, err := r.listener(i, l, stores, backends)
		if err != nil {
			return nil, err
		}
		listeners.WriteString(text)
	}
	p := func(format string, args ...any) { fmt.Fprintf(&r.b, format+"\n", args...) }
	p("# Rendered by mtlsgate (harness/haproxyconf), generation %d. Do not edit.", in.Generation)
	p("global")
	p("    lua-load %s", lua)
	p("    # A reload must not wait for a slow client: old workers go within seconds.")
	p("    hard-stop-after 5s")
	p("    stats socket %s/%s mode 600 level admin", in.Dir, AdminSocket)
	p("    server-state-file %s/%s", in.Dir, ServerStateFile)
	p("    tune.ssl.default-dh-param 2048")
	p("    # No session-ID cache: mTLS listeners must not resume (off mode still resumes by ticket).")
	p("    tune.ssl.cachesize 0")
	p("")
	p("defaults")
	p("    mode http")
	p("    timeout connect 5s")
	p("    timeout client 30s")
	p("    timeout server 60s")
	p("    timeout check 5s")
	p("    timeout http-request 10s")
	p("    load-server-state-from-file global")
	p("")
	p("frontend mtlsgate_probe")
	p("    bind %s", in.ProbeAddr)
	p("    http-request return status 200 content-type text/plain string %d if { path %s }", in.Generation, GenerationPath)
	p("    stats enable")
	p("    stats uri %s", StatsPath)
	p("")
	r.b.WriteString(listeners.String())
	r.b.WriteString(groups.String())
	return &Rendered{Config: r.b.String(), Files: r.files, Backends: backends}, nil
}

// file registers a file by content and returns its absolute path.
func (r *renderer) file(name string, content []byte) string {
	sum := sha256.Sum256(content)
	full := hex.EncodeToString(sum[:6]) + "-" + name
	r.files[full] = content
	return r.in.Dir + "/" + full
}

// store is a rendered trust store: its CA bundle and its CRLs in one file ("" when none).
type store struct {
	bundle, crl string
}

// trustStores copies every trust store's bundle and concatenates its CRLs. The ALB loading
// rules (A-TS-1, A-TS-2) are not applied here: OpenSSL reads what HAProxy is given, and haproxy
// -c refuses what OpenSSL cannot load.
func (r *renderer) trustStores(tss []alb.TrustStore) (map[string]store, error) {
	out := map[string]store{}
	for i, ts := range tss {
		where := fmt.Sprintf("TrustStores[%d]", i)
		if ts.CaCertificatesBundleFile == "" {
			return nil, fmt.Errorf("%s.CaCertificatesBundleFile: required (a PEM bundle of CA certificates)", where)
		}
		b, err := os.ReadFile(ts.CaCertificatesBundleFile)
		if err != nil {
			return nil, fmt.Errorf("%s.CaCertificatesBundleFile: read %q: %w", where, ts.CaCertificatesBundleFile, err)
		}
		s := store{bundle: r.file(fmt.Sprintf("truststore-%d-ca.pem", i), b)}
		var crls bytes.Buffer
		for j, rc := range ts.RevocationContents {
			if rc.RevocationType != "" && rc.RevocationType != "CRL" {
				return nil, fmt.Errorf("%s.RevocationContents[%d].RevocationType %q: only CRL is known", where, j, rc.RevocationType)
			}
			c, err := os.ReadFile(rc.File)
			if err != nil {
				return nil, fmt.Errorf("%s.RevocationContents[%d].File: read %q: %w", where, j, rc.File, err)
			}
			crls.Write(c)
			if len(c) > 0 && c[len(c)-1] != '\n' {
				crls.WriteByte('\n')
			}
		}
		if crls.Len() > 0 {
			s.crl = r.file(fmt.Sprintf("truststore-%d-crl.pem", i), crls.Bytes())
		}
		for _, key := range []string{ts.Name, ts.TrustStoreArn} {
			if key == "" {
				continue
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("%s: the name %q is used twice", where, key)
			}
			out[key] = s
		}
	}
	return out, nil
}

// OpenSSL's X509_V_ERR codes the bind lines name.
const (
	x509ErrUnableToGetCRL       = 3
	x509ErrCertHasExpired       = 10
	x509ErrUnableToGetCRLIssuer = 33
)

// listener renders one HTTPS listener as a frontend.
func (r *renderer) listener(i int, l alb.Listener, stores map[string]store, backends map[string]Backend) (string, error) {
	where := fmt.Sprintf("Listeners[%d]", i)
	if l.Protocol != "HTTPS" {
		return "", fmt.Errorf("%s.Protocol %q: only HTTPS listeners are rendered (set Protocol: HTTPS)", where, l.Protocol)
	}
	if l.Port < 0 || l.Port > 65535 {
		return "", fmt.Errorf("%s.Port %d: use 1 to 65535 (0 picks a free port)", where, l.Port)
	}
	pol, err := alb.LookupPolicy(l.SslPolicy)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	mode, err := l.MutualAuthentication.NormalizedMode(where)
	if err != nil {
		return "", err
	}
	advertise, err := l.MutualAuthentication.AdvertisesCANames(where)
	if err != nil {
		return "", err
	}
	names, err := headerNames(l.Attributes, where)
	if err != nil {
		return "", err
	}
	if len(l.Certificates) == 0 {
		return "", fmt.Errorf("%s.Certificates: an HTTPS listener needs at least one certificate", where)
	}
	if len(l.DefaultActions) != 1 || l.DefaultActions[0].Type != "forward" {
		return "", fmt.Errorf("%s.DefaultActions: give exactly one action with Type: forward and a TargetGroupArn", where)
	}
	tgName := l.DefaultActions[0].TargetGroupArn
	be, ok := backends[tgName]
	if !ok {
		return "", fmt.Errorf("%s.DefaultActions[0].TargetGroupArn %q: no target group has that TargetGroupName or TargetGroupArn", where, tgName)
	}
	bind := []string{"bind", r.in.ListenAddrs[i], "ssl"}
	var firstCert string
	for j, c := range l.Certificates {
		cert, err := os.ReadFile(c.CertificateFile)
		if err != nil {
			return "", fmt.Errorf("%s.Certificates[%d].CertificateFile: read %q: %w", where, j, c.CertificateFile, err)
		}
		key, err := os.ReadFile(c.PrivateKeyFile)
		if err != nil {
			return "", fmt.Errorf("%s.Certificates[%d].PrivateKeyFile: read %q: %w", where, j, c.PrivateKeyFile, err)
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return "", fmt.Errorf("%s.Certificates[%d]: %q and %q are not a certificate and its key: %w", where, j, c.CertificateFile, c.PrivateKeyFile, err)
		}
		pem := append(append(bytes.TrimSpace(cert), '\n'), bytes.TrimSpace(key)...)
		crt := r.file(fmt.Sprintf("listener-%d-cert-%d.pem", i, j), append(pem, '\n'))
		if j == 0 {
			firstCert = crt
		}
		bind = append(bind, "crt", crt)
	}
	bind = append(bind, "alpn", "http/1.1")
	bind = append(bind, PolicyBindOptions(pol)...)
	if mode == alb.ModePassthrough || mode == alb.ModeVerify {
		// ALB: "Session resumption is not supported while using mutual TLS passthrough or verify
		// modes". With tune.ssl.cachesize 0, no-tls-tickets leaves OpenSSL nothing to resume from.
		bind = append(bind, "no-tls-tickets")
	}
	switch mode {
	case alb.ModePassthrough:
		// Ask for any certificate and accept whatever comes: every error is ignored, and no CA
		// names are sent (the listener's own certificate only satisfies "verify optional").
		bind = append(bind, "verify", "optional", "ca-verify-file", firstCert,
			"ca-ignore-err", "all", "crt-ignore-err", "all")
	case alb.ModeVerify:
		arn := l.MutualAuthentication.TrustStoreArn
		s, ok := stores[arn]
		if !ok {
			return "", fmt.Errorf("%s.MutualAuthentication.TrustStoreArn %q: verify mode needs a trust store; no trust store has that Name or TrustStoreArn", where, arn)
		}
		bind = append(bind, "verify", "required")
		if advertise {
			bind = append(bind, "ca-file", s.bundle)
		} else {
			bind = append(bind, "ca-verify-file", s.bundle)
		}
		// A CA without a CRL in the trust store is not a failure: ALB checks the CRLs it has.
		ignoreCA := []int{x509ErrUnableToGetCRL, x509ErrUnableToGetCRLIssuer}
		ignoreLeaf := slices.Clone(ignoreCA)
		if s.crl != "" {
			bind = append(bind, "crl-file", s.crl)
		}
		if l.MutualAuthentication.IgnoreClientCertificateExpiry {
			ignoreLeaf = append(ignoreLeaf, x509ErrCertHasExpired)
		}
		bind = append(bind, "ca-ignore-err", joinInts(ignoreCA), "crt-ignore-err", joinInts(ignoreLeaf))
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, "    "+format+"\n", args...) }
	fmt.Fprintf(&b, "frontend listener_%d\n", i)
	p("%s", strings.Join(bind, " "))
	p("# A-HDR-2: the client's own X-Amzn-Mtls-* (and renamed) headers never reach a target.")
	p("http-request del-header ^[Xx]-[Aa][Mm][Zz][Nn]-[Mm][Tt][Ll][Ss]- -m reg")
	for _, n := range names.All() {
		if !strings.HasPrefix(strings.ToLower(n), "x-amzn-mtls-") {
			p("http-request del-header %s", n)
		}
	}
	p("option forwardfor")
	p("http-request set-header X-Forwarded-Proto https")
	p("http-request set-header X-Forwarded-Port %%[dst_port]")
	switch mode {
	case alb.ModePassthrough:
		p("http-request set-header %s %%[lua.mtls_chain_pem] if { ssl_c_used }", names.ClientCert)
	case alb.ModeVerify:
		p("http-request set-header %s %%[ssl_c_serial,hex] if { ssl_c_used }", names.SerialNumber) // whole bytes, as ALB (A-HDR-1)
		p("http-request set-header %s \"%%[ssl_c_i_dn(,0,rfc2253)]\" if { ssl_c_used }", names.Issuer)
		p("http-request set-header %s \"%%[ssl_c_s_dn(,0,rfc2253)]\" if { ssl_c_used }", names.Subject)
		p("http-request set-header %s %%[lua.mtls_validity] if { ssl_c_used }", names.Validity)
		p("http-request set-header %s %%[lua.mtls_leaf_pem] if { ssl_c_used }", names.Leaf)
	}
	p("default_backend %s", be.Name)
	b.WriteString("\n")
	return b.String(), nil
}

// PolicyBindOptions are the bind (or server) options of an ELB security policy: protocol bounds,
// TLS 1.2 ciphers, TLS 1.3 suites and groups, from reference/alb's policy table. Protocols below
// TLS 1.2 need OpenSSL's security level 0.
func PolicyBindOptions(p alb.Policy) []string {
	out := []string{"ssl-min-ver", versionName(p.MinVersion), "ssl-max-ver", versionName(p.MaxVersion)}
	ciphers := slices.Concat(p.Ciphers, p.Unsupported)
	if len(ciphers) > 0 {
		list := strings.Join(ciphers, ":")
		if p.MinVersion < tls.VersionTLS12 {
			list += ":@SECLEVEL=0"
		}
		out = append(out, "ciphers", list)
	}
	if len(p.TLS13Ciphers) > 0 {
		out = append(out, "ciphersuites", strings.Join(p.TLS13Ciphers, ":"))
	}
	var groups []string
	for _, g := range p.Groups {
		groups = append(groups, alb.GroupName(g))
	}
	if len(groups) > 0 {
		out = append(out, "curves", strings.Join(groups, ":"))
	}
	return out
}

// versionName is HAProxy's name of a TLS version.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return "TLSv1.3"
}

// targetGroup renders one target group as a backend. Every target is a checked server and, again,
// an unchecked backup: when every checked server is down the backups take the traffic, which is
// ALB's fail-open. An empty group answers ALB's 503; a target that refuses answers ALB's 502.
func (r *renderer) targetGroup(i int, tg alb.TargetGroup, policy string) (Backend, string, error) {
	where := fmt.Sprintf("TargetGroups[%d]", i)
	if tg.TargetGroupName == "" {
		return Backend{}, "", fmt.Errorf("%s: TargetGroupName is required", where)
	}
	where = fmt.Sprintf("target group %q", tg.TargetGroupName)
	tlsTarget, err := isHTTPS(tg.Protocol)
	if err != nil {
		return Backend{}, "", fmt.Errorf("%s: Protocol: %w", where, err)
	}
	checkTLS := tlsTarget
	if tg.HealthCheckProtocol != "" {
		if checkTLS, err = isHTTPS(tg.HealthCheckProtocol); err != nil {
			return Backend{}, "", fmt.Errorf("%s: HealthCheckProtocol: %w", where, err)
		}
	}
	path := "/"
	if tg.HealthCheckPath != "" {
		if !strings.HasPrefix(tg.HealthCheckPath, "/") || strings.ContainsAny(tg.HealthCheckPath, " \t\r\n\"'\\#") {
			return Backend{}, "", fmt.Errorf("%s: HealthCheckPath %q must start with / and hold no spaces or quotes", where, tg.HealthCheckPath)
		}
		path = tg.HealthCheckPath
	}
	interval, timeout := 30*time.Second, 5*time.Second
	if s := tg.HealthCheckIntervalSeconds; s != 0 {
		if s < 0 || s > 300 {
			return Backend{}, "", fmt.Errorf("%s: HealthCheckIntervalSeconds %g: use a value above 0 and at most 300", where, s)
		}
		interval = time.Duration(s * float64(time.Second))
	}
	timeout = min(timeout, interval)
	if s := tg.HealthCheckTimeoutSeconds; s != 0 {
		if s < 0 || s > 120 {
			return Backend{}, "", fmt.Errorf("%s: HealthCheckTimeoutSeconds %g: use a value above 0 and at most 120", where, s)
		}
		timeout = time.Duration(s * float64(time.Second))
	}
	rise, fall := 5, 2
	for _, th := range []struct {
		name string
		v    int
		dst  *int
	}{{"HealthyThresholdCount", tg.HealthyThresholdCount, &rise}, {"UnhealthyThresholdCount", tg.UnhealthyThresholdCount, &fall}} {
		if th.v == 0 {
			continue
		}
		if th.v < 2 || th.v > 10 {
			return Backend{}, "", fmt.Errorf("%s: %s %d: use 2 to 10", where, th.name, th.v)
		}
		*th.dst = th.v
	}
	codes, err := alb.ParseHTTPCodes(tg.Matcher.HttpCode)
	if err != nil {
		return Backend{}, "", fmt.Errorf("%s: %w", where, err)
	}
	var expect []string
	for _, c := range codes {
		if c.From == c.To {
			expect = append(expect, strconv.Itoa(c.From))
		} else {
			expect = append(expect, fmt.Sprintf("%d-%d", c.From, c.To))
		}
	}
	// HAProxy bounds a check's connect (TLS handshake included) by inter, not by the timeout: a
	// timeout longer than the interval (ALB refuses that, the emulator allows it) stretches the
	// interval to the timeout, so a slow handshake is not reported as a timeout.
	interval = max(interval, timeout)
	checked := tg.HealthCheckEnabled == nil || *tg.HealthCheckEnabled
	// The name carries the group's configuration: a changed group starts with fresh health, an
	// unchanged one finds its servers' state in the server-state file.
	js, err := json.Marshal(tg)
	if err != nil {
		return Backend{}, "", fmt.Errorf("%s: %w", where, err)
	}
	sum := sha256.Sum256(js)
	be := Backend{Name: fmt.Sprintf("targetgroup_%d_%s", i, hex.EncodeToString(sum[:4])), Targets: slices.Clone(tg.Targets), Checked: checked}
	for j, t := range tg.Targets {
		if t.Id == "" || strings.ContainsAny(t.Id, " \t\"'#") || t.Port < 1 || t.Port > 65535 {
			return Backend{}, "", fmt.Errorf("%s: Targets[%d]: give an Id (IP address) and a Port from 1 to 65535", where, j)
		}
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, "    "+format+"\n", args...) }
	fmt.Fprintf(&b, "backend %s\n", be.Name)
	p("# %s", strings.ReplaceAll(where, "\n", " "))
	p("balance roundrobin")
	if len(tg.Targets) == 0 {
		p("http-request return status 503 content-type text/html file %s hdr Server %s",
			r.file("503.html", alb.ErrorPage(http.StatusServiceUnavailable, alb.StatusText(http.StatusServiceUnavailable))), alb.ServerHeader)
		b.WriteString("\n")
		return be, b.String(), nil
	}
	p("option allbackups")
	p("retries 1")
	// HAProxy answers 503 when it cannot connect; ALB says 502 Bad Gateway.
	p("errorfile 503 %s", r.file("502.http", elbErrorResponse(http.StatusBadGateway, alb.StatusText(http.StatusBadGateway))))
	if checked {
		p("option httpchk")
		p("http-check send meth GET uri %s ver HTTP/1.1 hdr Host %s hdr User-Agent ELB-HealthChecker/2.0", path, tg.Targets[0].Id)
		p("http-check expect status %s", strings.Join(expect, ","))
		p("timeout check %dms", max(1, timeout.Milliseconds()))
	}
	var targetTLS []string
	if tlsTarget {
		targetPol, err := alb.LookupPolicy(policy)
		if err != nil {
			return Backend{}, "", err
		}
		// ALB does not verify a target's certificate (A-TG-1).
		targetTLS = append([]string{"ssl", "verify", "none"}, PolicyBindOptions(targetPol)...)
		targetTLS = serverTLSOptions(targetTLS)
	}
	for j, t := range tg.Targets {
		addr := t.Id + ":" + strconv.Itoa(t.Port)
		srv := append([]string{"server", fmt.Sprintf("t%d", j), addr}, targetTLS...)
		if checked {
			srv = append(srv, "check", "inter", fmt.Sprintf("%dms", max(1, interval.Milliseconds())), "rise", strconv.Itoa(rise), "fall", strconv.Itoa(fall))
			switch {
			case checkTLS && !tlsTarget:
				srv = append(srv, "check-ssl", "verify", "none")
			case !checkTLS && tlsTarget:
				srv = append(srv, "no-check-ssl")
			}
		}
		p("%s", strings.Join(srv, " "))
	}
	for j, t := range tg.Targets {
		addr := t.Id + ":" + strconv.Itoa(t.Port)
		p("%s", strings.Join(append([]string{"server", fmt.Sprintf("failopen%d", j), addr, "backup"}, targetTLS...), " "))
	}
	b.WriteString("\n")
	return be, b.String(), nil
}

// serverTLSOptions turns bind options into server options: a server line has no "curves" before
// HAProxy 2.8, so the groups are left to OpenSSL's defaults towards targets.
func serverTLSOptions(opts []string) []string {
	var out []string
	for i := 0; i < len(opts); i++ {
		if opts[i] == "curves" {
			i++
			continue
		}
		out = append(out, opts[i])
	}
	return out
}

func isHTTPS(protocol string) (bool, error) {
	switch protocol {
	case "HTTP":
		return false, nil
	case "HTTPS":
		return true, nil
	}
	return false, fmt.Errorf("%q: use HTTP or HTTPS", protocol)
}

// elbErrorResponse is a whole HTTP response for an errorfile.
func elbErrorResponse(code int, text string) []byte {
	body := alb.ErrorPage(code, text)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nServer: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", code, text, alb.ServerHeader, len(body), body)
}

func joinInts(vs []int) string {
	var s []string
	for _, v := range vs {
		s = append(s, strconv.Itoa(v))
	}
	return strings.Join(s, ",")
}

// headerNames reads the listener attributes that rename the headers as ALB does
// (alb.ParseHeaderAttributes), and refuses the names HAProxy's configuration cannot carry.
func headerNames(attrs []alb.Attribute, where string) (alb.HeaderNames, error) {
	n, err := alb.ParseHeaderAttributes(attrs, where)
	if err != nil {
		return alb.HeaderNames{}, err
	}
	for i, a := range attrs {
		if strings.Trim(a.Value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return alb.HeaderNames{}, fmt.Errorf("%s.Attributes[%d] %s: %q: the haproxy target renders header names of letters, digits, - and _ only", where, i, a.Key, a.Value)
		}
	}
	return n, nil
}
