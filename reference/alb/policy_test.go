package alb

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// The pre-2021 policies as describe-ssl-policies' tables give them ("FS supported policies",
// "TLS security policies"): protocols and ciphers in ELB's order.
func TestPre2021Policies(t *testing.T) {
	const (
		ecdhe = "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 " +
			"ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 " +
			"ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES256-SHA"
		rsa    = "AES128-GCM-SHA256 AES128-SHA256 AES128-SHA AES256-GCM-SHA384 AES256-SHA256 AES256-SHA"
		full   = ecdhe + " " + rsa
		noSHA1 = "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 " +
			"ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384"
		goLacksECDHE = "ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384"
		goLacksAll   = goLacksECDHE + " AES256-SHA256"
	)
	want := []struct {
		name            string
		min             uint16
		listed, goLacks string
	}{
		{"ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS12, noSHA1 + " AES128-GCM-SHA256 AES128-SHA256 AES256-GCM-SHA384 AES256-SHA256", goLacksAll},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", tls.VersionTLS11, full, goLacksAll},
		{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", tls.VersionTLS12, full, goLacksAll},
		{"ELBSecurityPolicy-FS-2018-06", tls.VersionTLS10, ecdhe, goLacksECDHE},
		{"ELBSecurityPolicy-2015-05", tls.VersionTLS10, full, goLacksAll},
		{"ELBSecurityPolicy-TLS-1-0-2015-04", tls.VersionTLS10, full + " DES-CBC3-SHA", goLacksAll},
		{"ELBSecurityPolicy-FS-1-2-Res-2019-08", tls.VersionTLS12, noSHA1, goLacksECDHE},
		{"ELBSecurityPolicy-FS-1-1-2019-08", tls.VersionTLS11, ecdhe, goLacksECDHE},
		{"ELBSecurityPolicy-FS-1-2-2019-08", tls.VersionTLS12, ecdhe, goLacksECDHE},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", tls.VersionTLS12,
			"ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384", ""},
	}
	var names []string
	for _, p := range Policies() {
		names = append(names, p.Name)
	}
	for i, w := range want {
		p, err := LookupPolicy(w.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := names[len(names)-len(want)+i]; got != w.name {
			t.Errorf("policy %d from the end is %s, want %s (describe-ssl-policies' order)", len(want)-i, got, w.name)
		}
		if p.MinVersion != w.min || p.MaxVersion != tls.VersionTLS12 || len(p.TLS13Ciphers) != 0 {
			t.Errorf("%s: versions %x–%x, TLS 1.3 suites %v; want %x–TLS 1.2 and none", w.name, p.MinVersion, p.MaxVersion, p.TLS13Ciphers, w.min)
		}
		if got := strings.Join(p.Listed, " "); got != w.listed {
			t.Errorf("%s lists\n got %s\nwant %s", w.name, got, w.listed)
		}
		if got := strings.Join(p.Unsupported, " "); got != w.goLacks {
			t.Errorf("%s: Go cannot serve %q, want %q", w.name, got, w.goLacks)
		}
		for _, c := range p.Listed {
			if slices.Contains(p.Ciphers, c) == slices.Contains(p.Unsupported, c) {
				t.Errorf("%s: %s is in exactly one of Ciphers and Unsupported: %v / %v", w.name, c, p.Ciphers, p.Unsupported)
			}
		}
		if !slices.Equal(p.Groups, must(LookupPolicy(DefaultPolicy)).Groups) {
			t.Errorf("%s: groups %v", w.name, p.Groups)
		}
		if b := BackendPolicy(p); b != "ELBSecurityPolicy-2016-08" {
			t.Errorf("behind %s: back-end policy %s, want ELBSecurityPolicy-2016-08 (not a TLS 1.3 or FIPS policy)", w.name, b)
		}
	}
	old, def := must(LookupPolicy("ELBSecurityPolicy-2015-05")), must(LookupPolicy("ELBSecurityPolicy-2016-08"))
	old.Name = def.Name
	if !slices.Equal(old.Listed, def.Listed) || !slices.Equal(old.Ciphers, def.Ciphers) || old.MinVersion != def.MinVersion || old.MaxVersion != def.MaxVersion {
		t.Errorf("ELBSecurityPolicy-2015-05 is \"identical to ELBSecurityPolicy-2016-08\": %+v vs %+v", old, def)
	}
}

// handshake runs a TLS handshake between a listener with the policy and cert and a client; it
// returns the client's connection state or the handshake error.
func handshake(t *testing.T, cert tls.Certificate, policy string, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	p, err := LookupPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	server := &tls.Config{Certificates: []tls.Certificate{cert}}
	p.apply(server)
	c, s := net.Pipe()
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		defer s.Close()
		done <- tls.Server(s, server).HandshakeContext(t.Context())
	}()
	client.InsecureSkipVerify = true
	cc := tls.Client(c, client)
	err = cc.HandshakeContext(t.Context())
	c.Close()
	<-done
	return cc.ConnectionState(), err
}

func TestPre2021PolicyHandshakes(t *testing.T) {
	cert := testPKI(t).Get(fixtures.SNIAPIRSA).TLSCertificate() // RSA: the RSA key exchange suites need it
	only := func(minV, maxV uint16, suite uint16) *tls.Config {
		return &tls.Config{MinVersion: minV, MaxVersion: maxV, CipherSuites: []uint16{suite}}
	}
	for _, c := range []struct {
		policy  string
		client  *tls.Config
		suite   uint16 // 0: refused
		version uint16
	}{
		{"ELBSecurityPolicy-TLS-1-0-2015-04", only(tls.VersionTLS10, tls.VersionTLS10, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA), tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.VersionTLS10},
		{"ELBSecurityPolicy-2016-08", only(tls.VersionTLS10, tls.VersionTLS10, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA), 0, 0},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256), 0, 0},
		{"ELBSecurityPolicy-FS-1-2-Res-2019-08", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256), tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.VersionTLS12},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", &tls.Config{MinVersion: tls.VersionTLS13}, 0, 0},
		{"ELBSecurityPolicy-FS-2018-06", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256), 0, 0},
		{"ELBSecurityPolicy-FS-2018-06", only(tls.VersionTLS10, tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.VersionTLS10},
		{"ELBSecurityPolicy-FS-1-1-2019-08", only(tls.VersionTLS10, tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), 0, 0},
		{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256), tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", only(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), 0, 0},
		{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", only(tls.VersionTLS11, tls.VersionTLS11, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), 0, 0},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", only(tls.VersionTLS11, tls.VersionTLS11, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.VersionTLS11},
	} {
		st, err := handshake(t, cert, c.policy, c.client)
		switch {
		case c.suite == 0 && err == nil:
			t.Errorf("%s admitted %s %s (client offered %v)", c.policy, ProtocolName(st.Version), OpenSSLCipherName(st.CipherSuite), c.client.CipherSuites)
		case c.suite != 0 && err != nil:
			t.Errorf("%s refused a client offering %s: %v", c.policy, OpenSSLCipherName(c.suite), err)
		case c.suite != 0 && (st.CipherSuite != c.suite || st.Version != c.version):
			t.Errorf("%s negotiated %s %s, want %s %s", c.policy, ProtocolName(st.Version), OpenSSLCipherName(st.CipherSuite), ProtocolName(c.version), OpenSSLCipherName(c.suite))
		}
	}
}
