package kong

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestVerifyCacheReusesAVerificationUntilTTLOrExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotAfter: now.Add(90 * time.Second)}
	other := &x509.Certificate{Raw: []byte("other"), NotAfter: now.Add(time.Hour)}
	runs := 0
	verify := func(chain []*x509.Certificate) func() []*x509.Certificate {
		return func() []*x509.Certificate { runs++; return chain }
	}
	v := verifyCache{ttl: time.Minute}
	peers := []*x509.Certificate{leaf}
	for i := 0; i < 3; i++ {
		if got := v.verify(peers, now.Add(time.Duration(i)*time.Second), verify(peers)); len(got) != 1 {
			t.Fatalf("call %d: chain %v", i, got)
		}
	}
	if runs != 1 {
		t.Fatalf("verified %d times within the TTL, want once", runs)
	}
	v.verify([]*x509.Certificate{other}, now, verify(nil))
	if runs != 2 {
		t.Fatal("another presented chain must be verified on its own")
	}
	v.verify(peers, now.Add(61*time.Second), verify(peers))
	if runs != 3 {
		t.Fatal("an entry older than the TTL must be verified again")
	}
	// The entry made at 61 s lives to 121 s by the TTL, but the leaf expires at 90 s.
	v.verify(peers, now.Add(91*time.Second), verify(nil))
	if runs != 4 {
		t.Fatal("an entry must not outlive the chain's NotAfter")
	}
	if got := v.verify([]*x509.Certificate{other}, now.Add(time.Second), verify(peers)); got != nil || runs != 4 {
		t.Fatalf("a cached failure stays a failure within the TTL: %v, %d runs", got, runs)
	}
	off := verifyCache{}
	off.verify(peers, now, verify(peers))
	off.verify(peers, now, verify(peers))
	if runs != 6 {
		t.Fatal("cache_ttl 0 verifies every time")
	}
}
