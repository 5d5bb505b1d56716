package ciphername

import (
	"crypto/tls"
	"slices"
	"testing"
)

// TestNamesRoundTrip: every listed name maps to a suite crypto/tls implements and back to itself,
// so Kong's and ALB's lists cannot enable a suite under another name.
func TestNamesRoundTrip(t *testing.T) {
	known := map[uint16]bool{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		known[s.ID] = true
	}
	for name, id := range suites() {
		if !known[id] {
			t.Errorf("%s: %#04x is not a crypto/tls suite", name, id)
		}
		if back, ok := Name(id); !ok || back != name {
			t.Errorf("%s → %#04x → %q", name, id, back)
		}
	}
}

// TestListIsAnOpenSSLCipherList: TLS 1.3 names and unknown names are skipped, order is kept.
func TestListIsAnOpenSSLCipherList(t *testing.T) {
	got := List("ECDHE-RSA-AES128-GCM-SHA256: TLS_AES_128_GCM_SHA256:DHE-RSA-AES128-GCM-SHA256:AES128-SHA")
	want := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	if !slices.Equal(got, want) {
		t.Errorf("List: %#04x, want %#04x", got, want)
	}
}
