package kong

import (
	"crypto/tls"
	"testing"
)

// TestServerConfigsFollowTheRuntime: a handshake reuses the configuration built for its
// certificate under the current runtime, and a new runtime (an Admin API change) gets new ones.
func TestServerConfigsFollowTheRuntime(t *testing.T) {
	var s serverConfigs
	built := 0
	build := func() *tls.Config { built++; return &tls.Config{} }
	rt1, rt2 := &runtime{}, &runtime{}
	pair := &certPair{id: "c"}
	a := s.get(rt1, nil, build)
	if b := s.get(rt1, nil, build); b != a || built != 1 {
		t.Fatalf("same runtime and certificate: got a new configuration (%d built)", built)
	}
	if c := s.get(rt1, pair, build); c == a || built != 2 {
		t.Fatalf("another certificate shared the default's configuration (%d built)", built)
	}
	if d := s.get(rt2, nil, build); d == a || built != 3 {
		t.Fatalf("a new runtime reused the old runtime's configuration (%d built)", built)
	}
}
