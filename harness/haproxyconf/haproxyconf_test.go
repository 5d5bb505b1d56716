package haproxyconf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// pkiDir writes a fresh PKI once per test and returns its directory.
func pkiDir(t *testing.T) string {
	t.Helper()
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatalf("generate PKI: %v", err)
	}
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatalf("write PKI: %v", err)
	}
	return dir
}

// scenario is one verify listener forwarding to a health-checked HTTP group of two targets.
func scenario(dir string, tweak ...func(*alb.Config)) alb.Config {
	cfg := alb.Config{
		Listeners: []alb.Listener{{
			Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			Certificates:         []alb.Certificate{{CertificateFile: filepath.Join(dir, "server.crt"), PrivateKeyFile: filepath.Join(dir, "server.key")}},
			MutualAuthentication: alb.MutualAuthentication{Mode: alb.ModeVerify, TrustStoreArn: "clients"},
			DefaultActions:       []alb.Action{{Type: "forward", TargetGroupArn: "echo"}},
		}},
		TrustStores: []alb.TrustStore{{Name: "clients", CaCertificatesBundleFile: filepath.Join(dir, "ca.crt"),
			RevocationContents: []alb.RevocationContents{{File: filepath.Join(dir, "crl.pem"), RevocationType: "CRL"}}}},
		TargetGroups: []alb.TargetGroup{{TargetGroupName: "echo", Protocol: "HTTP",
			Targets:         []alb.Target{{Id: "127.0.0.1", Port: 18080}, {Id: "127.0.0.1", Port: 18081}},
			HealthCheckPath: "/status/200", HealthCheckIntervalSeconds: 0.05, HealthyThresholdCount: 2, Matcher: alb.Matcher{HttpCode: "200,403"}}},
	}
	for _, tw := range tweak {
		tw(&cfg)
	}
	return cfg
}

func render(t *testing.T, cfg alb.Config) (*Rendered, error) {
	t.Helper()
	addrs := make([]string, len(cfg.Listeners))
	for i := range addrs {
		addrs[i] = "127.0.0.1:1844" + string(rune('3'+i))
	}
	return Render(Input{Config: cfg, ListenAddrs: addrs, ProbeAddr: "127.0.0.1:18400", Dir: "/run/h", Generation: 7})
}

// bindLine returns the rendered bind line of listener 0.
func bindLine(t *testing.T, r *Rendered) string {
	t.Helper()
	for _, l := range strings.Split(r.Config, "\n") {
		if strings.Contains(l, "bind 127.0.0.1:18443 ") {
			return l
		}
	}
	t.Fatalf("no bind line for the listener in:\n%s", r.Config)
	return ""
}

func TestRenderVerifyListener(t *testing.T) {
	dir := pkiDir(t)
	r, err := render(t, scenario(dir))
	if err != nil {
		t.Fatal(err)
	}
	bind := bindLine(t, r)
	for _, want := range []string{" ssl crt /run/h/", "verify required", "ca-verify-file /run/h/", "crl-file /run/h/",
		"ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3", "ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
		"ca-ignore-err 3,33", "crt-ignore-err 3,33", "curves X25519:"} {
		if !strings.Contains(bind, want) {
			t.Errorf("bind line lacks %q:\n%s", want, bind)
		}
	}
	if strings.Contains(bind, " ca-file ") {
		t.Errorf("AdvertiseTrustStoreCaNames off must not send CA names (ca-file):\n%s", bind)
	}
	for _, want := range []string{
		"http-request del-header ^[Xx]-[Aa][Mm][Zz][Nn]-[Mm][Tt][Ll][Ss]- -m reg",
		"http-request set-header X-Amzn-Mtls-Clientcert-Serial-Number %[ssl_c_serial,hex] if { ssl_c_used }",
		`http-request set-header X-Amzn-Mtls-Clientcert-Subject "%[ssl_c_s_dn(,0,rfc2253)]"`,
		"http-request set-header X-Amzn-Mtls-Clientcert-Leaf %[lua.mtls_leaf_pem]",
		"http-request return status 200 content-type text/plain string 7 if { path /generation }",
		"http-check expect status 200,403",
		"http-check send meth GET uri /status/200 ver HTTP/1.1 hdr Host 127.0.0.1",
		"server t0 127.0.0.1:18080 check inter 50ms rise 2 fall 2",
		"server failopen1 127.0.0.1:18081 backup",
		"option allbackups",
	} {
		if !strings.Contains(r.Config, want) {
			t.Errorf("config lacks %q:\n%s", want, r.Config)
		}
	}
	if strings.Contains(r.Config, "X-Amzn-Mtls-Clientcert %[") {
		t.Error("verify mode must not send the passthrough header")
	}
	if be := r.Backends["echo"]; !strings.HasPrefix(be.Name, "targetgroup_0_") || len(be.Targets) != 2 || !be.Checked {
		t.Errorf("backend of echo = %+v", be)
	}
	var names []string
	for n := range r.Files {
		names = append(names, n)
	}
	if len(r.Files) != 5 { // lua, bundle, crl, listener certificate, 502 errorfile
		t.Errorf("files = %v, want the Lua script, the bundle, the CRL, the listener certificate and the 502 page", names)
	}
}

func TestRenderModesAndHeaders(t *testing.T) {
	dir := pkiDir(t)
	r, err := render(t, scenario(dir, func(c *alb.Config) {
		c.Listeners[0].MutualAuthentication = alb.MutualAuthentication{Mode: alb.ModePassthrough}
		c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderClientCert), Value: "x-client-chain"}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	bind := bindLine(t, r)
	if !strings.Contains(bind, "verify optional") || !strings.Contains(bind, "ca-ignore-err all crt-ignore-err all") || strings.Contains(bind, " ca-file ") {
		t.Errorf("passthrough bind line: %s", bind)
	}
	for _, want := range []string{"http-request del-header X-Client-Chain", "http-request set-header X-Client-Chain %[lua.mtls_chain_pem] if { ssl_c_used }"} {
		if !strings.Contains(r.Config, want) {
			t.Errorf("config lacks %q", want)
		}
	}

	r, err = render(t, scenario(dir, func(c *alb.Config) { c.Listeners[0].MutualAuthentication = alb.MutualAuthentication{} }))
	if err != nil {
		t.Fatal(err)
	}
	if bind := bindLine(t, r); strings.Contains(bind, "verify") {
		t.Errorf("mode off asks for a certificate: %s", bind)
	}
	if strings.Contains(r.Config, "set-header X-Amzn-Mtls") {
		t.Error("mode off sets mTLS headers")
	}

	r, err = render(t, scenario(dir, func(c *alb.Config) {
		c.Listeners[0].MutualAuthentication.AdvertiseTrustStoreCaNames = "on"
		c.Listeners[0].MutualAuthentication.IgnoreClientCertificateExpiry = true
	}))
	if err != nil {
		t.Fatal(err)
	}
	if bind := bindLine(t, r); !strings.Contains(bind, " ca-file /run/h/") || !strings.Contains(bind, "crt-ignore-err 3,33,10") {
		t.Errorf("advertise on / ignore expiry: %s", bind)
	}
}

func TestRenderPolicies(t *testing.T) {
	for name, want := range map[string][]string{
		"ELBSecurityPolicy-TLS13-1-3-2021-06":      {"ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3"},
		"ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04": {"ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384 ", "curves secp256r1:secp384r1:secp521r1"},
		"ELBSecurityPolicy-TLS13-1-2-Res-2021-06":  {"ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384 "},
		"ELBSecurityPolicy-TLS13-1-0-2021-06":      {"ssl-min-ver TLSv1.0", "AES256-SHA:", ":@SECLEVEL=0 ", "ECDHE-RSA-AES256-SHA384"},
	} {
		p, err := alb.LookupPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(PolicyBindOptions(p), " ") + " "
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: options lack %q:\n%s", name, w, got)
			}
		}
	}
}

func TestRenderTargetGroups(t *testing.T) {
	dir := pkiDir(t)
	r, err := render(t, scenario(dir, func(c *alb.Config) { c.TargetGroups[0].Targets = nil }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Config, "http-request return status 503 content-type text/html file /run/h/") || strings.Contains(r.Config, "server t0") {
		t.Errorf("an empty group must answer ALB's 503 itself:\n%s", r.Config)
	}
	off := false
	r, err = render(t, scenario(dir, func(c *alb.Config) {
		c.TargetGroups[0].Protocol, c.TargetGroups[0].HealthCheckEnabled = "HTTPS", &off
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Config, "server t0 127.0.0.1:18080 ssl verify none ssl-min-ver TLSv1.0") || strings.Contains(r.Config, "httpchk") {
		t.Errorf("an HTTPS group without checks:\n%s", r.Config)
	}
	if !strings.Contains(r.Config, "errorfile 503 /run/h/") {
		t.Error("a target that refuses must answer ALB's 502 through errorfile 503")
	}
	// Behind a listener without TLS 1.3, ALB talks to targets with ELBSecurityPolicy-2016-08.
	r, err = render(t, scenario(dir, func(c *alb.Config) {
		c.TargetGroups[0].Protocol, c.TargetGroups[0].HealthCheckEnabled = "HTTPS", &off
		c.Listeners[0].SslPolicy = "ELBSecurityPolicy-2016-08"
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Config, "server t0 127.0.0.1:18080 ssl verify none ssl-min-ver TLSv1.0 ssl-max-ver TLSv1.2") {
		t.Errorf("the back-end policy behind a 2016-08 listener:\n%s", r.Config)
	}
	if !strings.Contains(bindLine(t, r), " no-tls-tickets") || !strings.Contains(r.Config, "tune.ssl.cachesize 0") {
		t.Errorf("a verify listener must not resume sessions: %s", bindLine(t, r))
	}
	r, err = render(t, scenario(dir, func(c *alb.Config) { c.TargetGroups[0].Matcher.HttpCode = "200-299" }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Config, "http-check expect status 200-299") {
		t.Error("a matcher range is rendered as a range")
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	dir := pkiDir(t)
	for name, c := range map[string]struct {
		tweak func(*alb.Config)
		want  string
	}{
		"mode":        {func(c *alb.Config) { c.Listeners[0].MutualAuthentication.Mode = "verfy" }, `Listeners[0].MutualAuthentication.Mode "verfy"`},
		"trust store": {func(c *alb.Config) { c.Listeners[0].MutualAuthentication.TrustStoreArn = "nope" }, `MutualAuthentication.TrustStoreArn "nope"`},
		"advertise":   {func(c *alb.Config) { c.Listeners[0].MutualAuthentication.AdvertiseTrustStoreCaNames = "yes" }, "AdvertiseTrustStoreCaNames"},
		"policy":      {func(c *alb.Config) { c.Listeners[0].SslPolicy = "ELBSecurityPolicy-2099" }, `SslPolicy "ELBSecurityPolicy-2099"`},
		"attribute":   {func(c *alb.Config) { c.Listeners[0].Attributes = []alb.Attribute{{Key: "routing.x", Value: "X"}} }, `unknown listener attribute "routing.x"`},
		"header name": {func(c *alb.Config) {
			c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderLeaf), Value: "bad header"}}
		}, "not a valid header name"},
		"header # char": {func(c *alb.Config) {
			c.Listeners[0].Attributes = []alb.Attribute{{Key: alb.HeaderAttribute(alb.HeaderLeaf), Value: "X#Y"}}
		}, "letters, digits, - and _ only"},
		"matcher":        {func(c *alb.Config) { c.TargetGroups[0].Matcher.HttpCode = "500" }, `Matcher.HttpCode "500"`},
		"protocol":       {func(c *alb.Config) { c.TargetGroups[0].Protocol = "TCP" }, `target group "echo": Protocol`},
		"threshold":      {func(c *alb.Config) { c.TargetGroups[0].HealthyThresholdCount = 11 }, "HealthyThresholdCount 11"},
		"group":          {func(c *alb.Config) { c.Listeners[0].DefaultActions[0].TargetGroupArn = "nope" }, `TargetGroupArn "nope"`},
		"listener proto": {func(c *alb.Config) { c.Listeners[0].Protocol = "HTTP" }, `Listeners[0].Protocol "HTTP"`},
		"bundle":         {func(c *alb.Config) { c.TrustStores[0].CaCertificatesBundleFile = filepath.Join(dir, "missing.pem") }, "TrustStores[0].CaCertificatesBundleFile"},
		"connection log": {func(c *alb.Config) { c.ConnectionLogs.Path = "/tmp/conn.log" }, "ConnectionLogs.Path"},
		"target":         {func(c *alb.Config) { c.TargetGroups[0].Targets[0].Port = 0 }, "Targets[0]"},
	} {
		_, err := render(t, scenario(dir, c.tweak))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
	}
}

// TestHAProxyAcceptsRendered runs haproxy -c on rendered configurations, when HAProxy is
// installed: every mode, an HTTPS group, an empty group and every policy but the PQ one.
func TestHAProxyAcceptsRendered(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr != nil {
			t.Skip("haproxy not installed (apt-get install -y haproxy): only the rendering is tested")
		}
		bin = "/usr/sbin/haproxy"
	}
	dir := pkiDir(t)
	off := false
	cases := map[string]alb.Config{
		"verify":    scenario(dir),
		"advertise": scenario(dir, func(c *alb.Config) { c.Listeners[0].MutualAuthentication.AdvertiseTrustStoreCaNames = "on" }),
		"passthrough": scenario(dir, func(c *alb.Config) {
			c.Listeners[0].MutualAuthentication = alb.MutualAuthentication{Mode: alb.ModePassthrough}
		}),
		"off": scenario(dir, func(c *alb.Config) { c.Listeners[0].MutualAuthentication = alb.MutualAuthentication{} }),
		"https group": scenario(dir, func(c *alb.Config) {
			c.TargetGroups[0].Protocol, c.TargetGroups[0].HealthCheckProtocol = "HTTPS", "HTTP"
		}),
		"empty group": scenario(dir, func(c *alb.Config) { c.TargetGroups[0].Targets, c.TargetGroups[0].HealthCheckEnabled = nil, &off }),
	}
	for _, p := range alb.Policies() {
		if strings.Contains(p.Name, "-PQ-") {
			continue // OpenSSL 3.0 has no X25519MLKEM768: haproxy -c refuses it, as it should
		}
		cases[p.Name] = scenario(dir, func(c *alb.Config) { c.Listeners[0].SslPolicy = p.Name })
	}
	for name, cfg := range cases {
		out := t.TempDir()
		r, err := Render(Input{Config: cfg, ListenAddrs: []string{"127.0.0.1:18443"}, ProbeAddr: "127.0.0.1:18400", Dir: out, Generation: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for f, b := range r.Files {
			if err := os.WriteFile(filepath.Join(out, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(out, ServerStateFile), []byte(EmptyServerState), 0o600); err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(out, "haproxy.cfg")
		if err := os.WriteFile(cfgPath, []byte(r.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(bin, "-c", "-f", cfgPath).CombinedOutput()
		if err != nil {
			t.Errorf("%s: haproxy -c: %v\n%s\n%s", name, err, b, r.Config)
		}
		if strings.Contains(string(b), "[WARNING]") {
			t.Errorf("%s: haproxy -c warns:\n%s", name, b)
		}
	}
}

func TestBackendNameFollowsGroupConfig(t *testing.T) {
	dir := pkiDir(t)
	a, err := render(t, scenario(dir))
	if err != nil {
		t.Fatal(err)
	}
	b, err := render(t, scenario(dir, func(c *alb.Config) { c.Listeners[0].SslPolicy = "ELBSecurityPolicy-TLS13-1-3-2021-06" }))
	if err != nil {
		t.Fatal(err)
	}
	if a.Backends["echo"].Name != b.Backends["echo"].Name {
		t.Error("an unchanged target group must keep its backend name, so its health survives a reload")
	}
	c, err := render(t, scenario(dir, func(c *alb.Config) { c.TargetGroups[0].Matcher.HttpCode = "200" }))
	if err != nil {
		t.Fatal(err)
	}
	if a.Backends["echo"].Name == c.Backends["echo"].Name {
		t.Error("a changed target group must start with fresh health (a new backend name)")
	}
	if !strings.Contains(a.Config, "server-state-file /run/h/server-state") || !strings.Contains(a.Config, "load-server-state-from-file global") {
		t.Error("the server-state file is not rendered")
	}
}
