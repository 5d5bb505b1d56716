package alb

import (
	"context"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// Fuzz targets for the emulator's loaders (issue 13): CA bundles, CRLs, the YAML configuration
// and Matcher.HttpCode. Seeds live in testdata/fuzz/<target>; `make fuzz` runs each for FUZZTIME.

// FuzzParseCABundle: a bundle is accepted only within ALB's rules, and never panics.
func FuzzParseCABundle(f *testing.F) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Get(fixtures.RootCA).CertPEM())
	f.Add(append([]byte("# comment\n"), p.Get(fixtures.RootCA).CertPEM()...))
	f.Add(p.Get(fixtures.Client).CertPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cas, err := ParseCABundle(b)
		if err != nil {
			return
		}
		if len(cas) == 0 || len(cas) > MaxCACertificates {
			t.Fatalf("accepted %d CAs", len(cas))
		}
		for _, c := range cas {
			if !c.IsCA {
				t.Fatalf("accepted a certificate that is not a CA: %s", c.Subject)
			}
		}
	})
}

// FuzzTrustStoreCRL: a CRL is accepted only when it parses and its issuer is in the bundle.
func FuzzTrustStoreCRL(f *testing.F) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		f.Fatal(err)
	}
	cas, err := ParseCABundle(p.Get(fixtures.RootCA).CertPEM())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.CRL(fixtures.CRL).PEM)
	f.Add(p.CRL(fixtures.CRLCorrupt).PEM)
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts := &trustStore{cas: cas, revoked: map[string]map[string]bool{}}
		if err := ts.addCRL(b); err != nil {
			return
		}
		if ts.entries > MaxRevocationEntries {
			t.Fatalf("accepted %d entries", ts.entries)
		}
	})
}

// FuzzParseConfig: whatever parses survives a round trip through Marshal, and validating its
// load balancer attributes and file fields never panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("Listeners:\n  - Port: 0\n    Protocol: HTTPS\n    MutualAuthentication: {Mode: verify, TrustStoreArn: ts}\n    DefaultActions: [{Type: forward, TargetGroupArn: echo}]\nLoadBalancerAttributes: [{Key: idle_timeout.timeout_seconds, Value: \"60\"}]\n"))
	f.Add([]byte("TrustStores: [{Name: ts, CaCertificatesBundleFile: /dev/zero, RevocationContents: [{File: crl.pem}]}]\nConnectionLogs: {Path: ../x}\n"))
	f.Add([]byte("TargetGroups: [{TargetGroupName: a, Protocol: HTTP, Matcher: {HttpCode: \"200-299\"}, Targets: [{Id: 127.0.0.1, Port: 80}]}]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err != nil {
			return
		}
		_, _ = parseLBAttributes(cfg.LoadBalancerAttributes)
		_ = cfg.FileFields()
		for _, tg := range cfg.TargetGroups {
			_, _ = newTargetGroup(tg, "fuzz", func() time.Duration { return DefaultIdleTimeout })
		}
		out, err := cfg.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("a parsed configuration does not parse again: %v\n%s", err, out)
		}
	})
}

// FuzzParseHTTPCodes: an accepted matcher holds only ranges within 200-499.
func FuzzParseHTTPCodes(f *testing.F) {
	for _, s := range []string{"200", "200,403", "200-299", "", " 200 , 404-499", "500", "299-200", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseHTTPCodes(s)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.From < 200 || r.To > 499 || r.From > r.To {
				t.Fatalf("%q → %+v", s, r)
			}
		}
	})
}
