package alb

import (
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// TestVerifyCachedKeepsEveryOutcome: a remembered success is reused only while no certificate
// involved crosses a validity boundary; past the leaf's NotAfter the chain is judged again and
// gets its code, and failures are never remembered.
func TestVerifyCachedKeepsEveryOutcome(t *testing.T) {
	pki, err := fixtures.Generate(t.Context(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	store, err := loadTrustStore(TrustStore{Name: "ts", CaCertificatesBundleFile: filepath.Join(dir, "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	chainOf := func(name string) []*x509.Certificate {
		id := pki.Get(name)
		out := []*x509.Certificate{id.Cert}
		for _, der := range id.Chain {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	now := time.Now()
	v := &verifier{store: store, now: func() time.Time { return now }}
	good := chainOf(fixtures.Client)
	for i := range 2 {
		if err := v.verifyCached(good); err != nil {
			t.Fatalf("good client, connection %d: %v", i+1, err)
		}
	}
	if len(v.passed.m) != 1 {
		t.Fatalf("%d chains remembered, want 1", len(v.passed.m))
	}
	now = good[0].NotAfter.Add(time.Second)
	var ve *VerifyError
	if err := v.verifyCached(good); !errors.As(err, &ve) || ve.Code != CodeExpired {
		t.Fatalf("good client after its NotAfter: %v; want %s", err, CodeExpired)
	}
	now = time.Now()
	bad := chainOf(fixtures.ClientUnknownCA)
	for i := range 2 {
		if err := v.verifyCached(bad); !errors.As(err, &ve) || ve.Code != CodeUntrusted {
			t.Fatalf("unknown CA, connection %d: %v; want %s", i+1, err, CodeUntrusted)
		}
	}
	if err := v.verifyCached(nil); !errors.As(err, &ve) || ve.Code != CodeRejected {
		t.Fatalf("no certificate: %v; want %s", err, CodeRejected)
	}
}

// TestStableSpan: the span ends just before the next certificate becomes valid or at the first
// NotAfter still ahead, and starts at the last boundary crossed.
func TestStableSpan(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	certs := []*x509.Certificate{
		{NotBefore: at.Add(-10 * day), NotAfter: at.Add(10 * day)},
		{NotBefore: at.Add(-5 * day), NotAfter: at.Add(20 * day)},
		{NotBefore: at.Add(3 * day), NotAfter: at.Add(30 * day)},   // not valid yet
		{NotBefore: at.Add(-30 * day), NotAfter: at.Add(-2 * day)}, // expired
	}
	span := stableSpan(at, certs)
	if want := at.Add(-2 * day).Add(time.Nanosecond); !span.from.Equal(want) {
		t.Errorf("from %s, want %s", span.from, want)
	}
	if want := at.Add(3 * day).Add(-time.Nanosecond); !span.until.Equal(want) {
		t.Errorf("until %s, want %s", span.until, want)
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{at, true}, {span.from, true}, {span.until, true}, {span.from.Add(-time.Nanosecond), false}, {span.until.Add(time.Nanosecond), false}} {
		if got := span.contains(c.at); got != c.want {
			t.Errorf("contains(%s) = %v, want %v", c.at, got, c.want)
		}
	}
}
