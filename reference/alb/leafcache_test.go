package alb

import (
	"crypto/x509"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// TestLeafCacheSharesRenderedValues: connections presenting the same leaf share one rendering,
// equal to rendering it afresh; another leaf gets its own; a full cache starts over.
func TestLeafCacheSharesRenderedValues(t *testing.T) {
	pki, err := fixtures.Generate(t.Context(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client, other := pki.Get(fixtures.Client).Cert, pki.Get(fixtures.ClientUnknownCA).Cert
	// A second parse of the same DER stands for the same certificate on a new connection.
	again, err := x509.ParseCertificate(client.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var c leafCache
	first := c.get(client)
	if got := c.get(again); got != first {
		t.Error("the same leaf on a new connection was rendered again instead of shared")
	}
	if *first != renderLeaf(client) {
		t.Errorf("cached values %+v differ from a fresh rendering %+v", *first, renderLeaf(client))
	}
	o := c.get(other)
	if o == first || *o != renderLeaf(other) {
		t.Errorf("another leaf got %+v, want its own rendering %+v", *o, renderLeaf(other))
	}
	for len(c.m) < digestCacheSize {
		var k [32]byte
		k[0], k[1] = byte(len(c.m)), byte(len(c.m)>>8)
		k[2] = 0xff // never a real leaf's hash in this test
		c.m[k] = &leafValues{}
	}
	c.get(pki.Get(fixtures.Server).Cert) // a leaf not seen yet: a miss
	if len(c.m) != 1 {
		t.Errorf("a full cache holds %d entries after a miss, want it to start over with 1", len(c.m))
	}
}
