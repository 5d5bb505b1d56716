package alb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

func testPKI(t *testing.T) *fixtures.PKI {
	t.Helper()
	seed := int64(4)
	p, err := fixtures.Generate(context.Background(), fixtures.Options{Seed: &seed})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseCABundle(t *testing.T) {
	p := testPKI(t)
	root := string(p.Get(fixtures.RootCA).CertPEM())
	rsa := string(p.Get(fixtures.RSARootCA).CertPEM())
	good := []string{
		root,
		root + rsa,
		"# my roots\n" + root + "# the RSA one\n" + rsa,
		strings.ReplaceAll(root+rsa, "\n", "\r\n"),
		strings.TrimSuffix(root, "\n"),
	}
	for i, b := range good {
		if _, err := ParseCABundle([]byte(b)); err != nil {
			t.Errorf("good bundle %d: %v", i, err)
		}
	}
	bad := map[string]struct{ bundle, want string }{
		"blank line":        {root + "\n" + rsa, ErrTextInvalidBundle},
		"trailing blank":    {root + "\n\n", ErrTextInvalidBundle},
		"text":              {"hello\n" + root, ErrTextInvalidBundle},
		"empty":             {"", ErrTextInvalidBundle},
		"unterminated":      {strings.Split(root, "-----END")[0], ErrTextInvalidBundle},
		"corrupt base64":    {strings.Replace(root, root[30:50], "!!!!!!!!!!!!!!!!!!!!", 1), ErrTextInvalidBundle},
		"not a CA":          {string(p.Get(fixtures.NotACA).CertPEM()), ErrTextNotACA},
		"leaf in bundle":    {root + string(p.Get(fixtures.Client).CertPEM()), ErrTextNotACA},
		"26 CAs":            {strings.Repeat(root, 26), "at most 25"},
		"private key block": {string(must(p.Get(fixtures.RootCA).KeyPEM())), ErrTextInvalidBundle},
	}
	for name, c := range bad {
		_, err := ParseCABundle([]byte(c.bundle))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to contain %q", name, err, c.want)
		}
	}
	if _, err := ParseCABundle([]byte(strings.Repeat(root, 25))); err != nil {
		t.Errorf("25 CAs are allowed: %v", err)
	}
	if ErrTextNotACA != "The basic constraints extension must specify that the certificate is for a CA" ||
		ErrTextInvalidBundle != "InvalidCaCertificatesBundle: The specified ca certificate bundle is in an invalid format, or corrupt." {
		t.Error("ALB's messages changed; SPEC A-TS-1 fixes them")
	}
}

func TestCABundleSizeLimit(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var names []string
	for i := 0; i < 500; i++ {
		names = append(names, strings.Repeat("x", 30)+".example.test")
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Big CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: names, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if len(p) <= MaxCACertificateSize {
		t.Fatalf("test certificate is only %d bytes", len(p))
	}
	if _, err := ParseCABundle(p); err == nil || !strings.Contains(err.Error(), "16 KB") {
		t.Errorf("err %v, want the 16 KB limit named", err)
	}
}

func TestRevocationLists(t *testing.T) {
	p := testPKI(t)
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	ts := func(crls ...string) TrustStore {
		s := TrustStore{Name: "ts", CaCertificatesBundleFile: filepath.Join(dir, "ca.crt")}
		for _, c := range crls {
			s.RevocationContents = append(s.RevocationContents, RevocationContents{File: filepath.Join(dir, c)})
		}
		return s
	}
	store, err := loadTrustStore(ts("crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !store.isRevoked(p.Get(fixtures.ClientRevoked).Cert, p.Get(fixtures.RootCA).Cert) {
		t.Error("client-revoked is not revoked by crl.pem")
	}
	if store.isRevoked(p.Get(fixtures.Client).Cert, p.Get(fixtures.RootCA).Cert) {
		t.Error("client is revoked by crl.pem")
	}
	for _, bad := range []string{"crl-corrupt.pem", "crl-unknown-ca.pem", "crl-intermediate.pem", "ca.crt"} {
		if _, err := loadTrustStore(ts(bad)); err == nil || !strings.Contains(err.Error(), ErrTextInvalidRevocation) {
			t.Errorf("%s: err %v, want %s", bad, err, ErrTextInvalidRevocation)
		}
	}
	many := make([]string, MaxRevocationLists+1)
	for i := range many {
		many[i] = "crl.pem"
	}
	if _, err := loadTrustStore(ts(many...)); err == nil || !strings.Contains(err.Error(), "at most 30") {
		t.Errorf("31 lists: err %v", err)
	}
	if _, err := loadTrustStore(ts(many[:MaxRevocationLists]...)); err != nil {
		t.Errorf("30 lists: %v", err)
	}
	// A negative serial on a CRL revokes nothing.
	neg := p.Get(fixtures.ClientNegativeSerial).Cert
	crl, err := p.NewCRL(fixtures.CRLRequest{Name: "neg", Issuer: fixtures.RootCA, Revoked: []string{fixtures.ClientNegativeSerial}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "neg.pem"), crl.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err = loadTrustStore(ts("neg.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if store.isRevoked(neg, p.Get(fixtures.RootCA).Cert) {
		t.Error("a negative serial was revoked")
	}
}

func TestParseHTTPCodes(t *testing.T) {
	for in, want := range map[string][]CodeRange{
		"":        {{200, 200}},
		"200":     {{200, 200}},
		"200,403": {{200, 200}, {403, 403}},
		"200-299": {{200, 299}},
		"403":     {{403, 403}},
		"200-499": {{200, 499}},
	} {
		got, err := ParseHTTPCodes(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v %v", in, got, err)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: %v, want %v", in, got, want)
			}
		}
	}
	for _, in := range []string{"100", "199", "500", "200-500", "abc", "299-200", "200,", "2xx"} {
		if _, err := ParseHTTPCodes(in); err == nil || !strings.Contains(err.Error(), "Matcher.HttpCode") {
			t.Errorf("%q: err %v, want one naming Matcher.HttpCode", in, err)
		}
	}
	codes, _ := ParseHTTPCodes("200,403")
	if !matches(codes, 403) || matches(codes, 404) || !matches(codes, 200) {
		t.Error("200,403 matches wrongly")
	}
}

func TestHeaderFormats(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nb, _ := time.Parse(time.RFC3339, "2023-09-21T01:50:17Z")
	na, _ := time.Parse(time.RFC3339, "2024-09-20T01:50:17Z")
	serial, _ := new(big.Int).SetString("0a1b2c3d4e5f", 16)
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: nb, NotAfter: na,
		Subject: pkix.Name{CommonName: "client.example.com", Organization: []string{"Example, Inc."}, Country: []string{"US"}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	names, err := ParseHeaderAttributes(nil, "Listeners[0]")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	v := renderLeaf(leaf)
	names.setVerify(h, &v)
	for k, want := range map[string]string{
		"X-Amzn-Mtls-Clientcert-Serial-Number": "0A1B2C3D4E5F", // whole bytes, as AWS's 03A5B1
		"X-Amzn-Mtls-Clientcert-Validity":      "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z",
		"X-Amzn-Mtls-Clientcert-Subject":       `CN=client.example.com,O=Example\, Inc.,C=US`,
		"X-Amzn-Mtls-Clientcert-Issuer":        `CN=client.example.com,O=Example\, Inc.,C=US`,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	l := h.Get("X-Amzn-Mtls-Clientcert-Leaf")
	if !strings.HasPrefix(l, "-----BEGIN%20CERTIFICATE-----%0A") || !strings.HasSuffix(l, "-----END%20CERTIFICATE-----%0A") {
		t.Errorf("leaf %q", l)
	}
	if dec, _ := url.PathUnescape(l); dec != string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) {
		t.Error("leaf does not decode to the PEM")
	}
	h.Set("X-Amzn-Mtls-Foo", "x")
	names.strip(h)
	if len(h) != 0 {
		t.Errorf("strip left %v", h)
	}
	if _, err := ParseHeaderAttributes([]Attribute{{Key: "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name", Value: "x-leaf"}}, "L"); err != nil {
		t.Error(err)
	}
	if _, err := ParseHeaderAttributes([]Attribute{{Key: "routing.http.xff_header_processing.mode", Value: "append"}}, "L"); err == nil ||
		!strings.Contains(err.Error(), "routing.http.xff_header_processing.mode") {
		t.Errorf("unknown attribute: %v", err)
	}
}

func TestPolicyTable(t *testing.T) {
	want := map[string]struct {
		min       uint16
		noChaCha  bool
		firstKEX  tls.CurveID
		anyCipher bool
	}{
		"ELBSecurityPolicy-TLS13-1-3-2021-06":        {tls.VersionTLS13, false, tls.X25519, false},
		"ELBSecurityPolicy-TLS13-1-2-2021-06":        {tls.VersionTLS12, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-2-Res-2021-06":    {tls.VersionTLS12, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06":   {tls.VersionTLS12, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06":   {tls.VersionTLS12, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-1-2021-06":        {tls.VersionTLS11, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-0-2021-06":        {tls.VersionTLS10, false, tls.X25519, true},
		"ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04":   {tls.VersionTLS13, true, tls.CurveP256, false},
		"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09":     {tls.VersionTLS13, false, tls.X25519MLKEM768, false},
		"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09": {tls.VersionTLS12, false, tls.X25519MLKEM768, true},
		"ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04":   {tls.VersionTLS10, true, tls.CurveP256, true},
	}
	legacy, err := LookupPolicy("ELBSecurityPolicy-2016-08")
	if err != nil || legacy.MinVersion != tls.VersionTLS10 || legacy.MaxVersion != tls.VersionTLS12 || len(legacy.TLS13Ciphers) != 0 {
		t.Errorf("ELBSecurityPolicy-2016-08: TLS 1.0–1.2 and no TLS 1.3: %+v %v", legacy, err)
	}
	for listener, backend := range map[string]string{
		"ELBSecurityPolicy-TLS13-1-2-2021-06": "ELBSecurityPolicy-TLS13-1-0-2021-06", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09": "ELBSecurityPolicy-TLS13-1-0-2021-06",
		"ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04": "ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", "ELBSecurityPolicy-2016-08": "ELBSecurityPolicy-2016-08",
	} {
		if got := BackendPolicy(must(LookupPolicy(listener))); got != backend {
			t.Errorf("behind %s: back-end policy %s, want %s", listener, got, backend)
		}
	}
	if len(Policies()) != len(want)+1+10 { // ELBSecurityPolicy-2016-08 and the ten pre-2021 ones (policy_test.go)
		t.Errorf("%d policies, want %d", len(Policies()), len(want))
	}
	for name, w := range want {
		p, err := LookupPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.MinVersion != w.min || p.MaxVersion != tls.VersionTLS13 || p.NoChaCha20 != w.noChaCha || p.Groups[0] != w.firstKEX || (len(p.Ciphers) > 0) != w.anyCipher {
			t.Errorf("%s: %+v", name, p)
		}
	}
	res, _ := LookupPolicy("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
	for _, c := range res.Ciphers {
		if !strings.Contains(c, "GCM") {
			t.Errorf("Res policy allows %s", c)
		}
	}
	def, _ := LookupPolicy("")
	if def.Name != DefaultPolicy {
		t.Errorf("default policy %s", def.Name)
	}
	if def.Name != "ELBSecurityPolicy-2016-08" {
		t.Errorf("a listener without SslPolicy gets %s, want the API's default ELBSecurityPolicy-2016-08", def.Name)
	}
	if _, err := LookupPolicy("ELBSecurityPolicy-TLS13-1-3-2099-01"); err == nil || !strings.Contains(err.Error(), `SslPolicy "ELBSecurityPolicy-TLS13-1-3-2099-01"`) {
		t.Errorf("unknown policy: %v", err)
	}
	if OpenSSLCipherName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) != "ECDHE-RSA-AES128-GCM-SHA256" || ProtocolName(tls.VersionTLS13) != "TLSv1.3" {
		t.Error("OpenSSL names")
	}
}

func TestConfigParse(t *testing.T) {
	if _, err := Parse([]byte("Listeners:\n  - Port: 443\n    Protocl: HTTPS\n")); err == nil || !strings.Contains(err.Error(), "Protocl") {
		t.Errorf("unknown key: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "alb.yaml")
	if err := os.WriteFile(path, []byte("Listeners:\n  - Port: 443\n    Protocol: HTTPS\n    Certificates:\n      - CertificateFile: s.crt\n        PrivateKeyFile: s.key\nTrustStores:\n  - Name: ts\n    CaCertificatesBundleFile: ca.pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TrustStores[0].CaCertificatesBundleFile != filepath.Join(dir, "ca.pem") || cfg.Listeners[0].Certificates[0].CertificateFile != filepath.Join(dir, "s.crt") {
		t.Errorf("relative paths not resolved: %+v", cfg)
	}
	if len(cfg.Files()) != 3 {
		t.Errorf("Files: %v", cfg.Files())
	}
	y, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(y)
	if err != nil || again.TrustStores[0].CaCertificatesBundleFile != cfg.TrustStores[0].CaCertificatesBundleFile || again.Listeners[0].Protocol != "HTTPS" {
		t.Errorf("Marshal does not round-trip: %v\n%s", err, y)
	}
}

func TestLogLineRoundTrip(t *testing.T) {
	e := LogEntry{Time: time.Date(2023, 10, 4, 17, 31, 46, 904395000, time.UTC), ClientIP: "192.0.2.1", ClientPort: "54321", ListenerPort: "443",
		Protocol: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", HandshakeLatency: 11 * time.Millisecond, Subject: "CN=client,O=Example Inc.",
		Validity: "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z", Serial: "FEF257E6E8F8AB57", VerifyStatus: "Success",
		TraceID: "TID_0123456789abcdef0123456789abcdef", KeyExchange: "X25519", ELB: ResourceID("my-alb"), IPAddress: "10.0.0.5"}
	line := e.String()
	want := `2023-10-04T17:31:46.904395Z 192.0.2.1 54321 443 TLSv1.3 TLS_AES_128_GCM_SHA256 0.011 "CN=client,O=Example Inc." NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z FEF257E6E8F8AB57 Success TID_0123456789abcdef0123456789abcdef X25519 ` + ResourceID("my-alb") + ` 10.0.0.5`
	if line != want {
		t.Errorf("line\n%s\nwant\n%s", line, want)
	}
	back, err := ParseLogLine(line)
	if err != nil || back.Subject != e.Subject || back.VerifyStatus != "Success" || !back.Time.Equal(e.Time) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	empty := LogEntry{Time: e.Time, VerifyStatus: "Failed:ClientCertRejected"}.String()
	if _, err := ParseLogLine(empty); err != nil || strings.Count(empty, " ") != 14 {
		t.Errorf("empty entry %q: %v", empty, err)
	}
	// A failed line keeps the certificate fields but has no handshake latency.
	failed := e
	failed.VerifyStatus = "Failed:ClientCertUntrusted"
	if f := strings.Fields(failed.String()); f[6] != "-" || !strings.Contains(failed.String(), "FEF257E6E8F8AB57 Failed:ClientCertUntrusted") {
		t.Errorf("failed line %q: latency %q, want -", failed.String(), f[6])
	}
	if !strings.HasPrefix(ResourceID(""), "app/mtlsgate/") || len(ResourceID("x")) != len("app/x/")+16 {
		t.Errorf("ResourceID: %q", ResourceID(""))
	}
	// AWS's own example lines (load-balancer-connection-logs) end at conn_trace_id; they parse.
	for _, aws := range []string{
		`2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US" NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success TID_3180a73013c8ca4bac2f731159d4b0fe`,
		`2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 - "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US" NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Failed:ClientCertUntrusted TID_1c71a68d70587445ad5127ff8b2687d7`,
	} {
		if got, err := ParseLogLine(aws); err != nil || got.Serial != "FEF257372D5C14D4" || got.ELB != "" {
			t.Errorf("AWS example %q: %+v %v", aws, got, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
