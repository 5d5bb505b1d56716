package bufpool

import (
	"net/http/httputil"
	"testing"
)

var _ httputil.BufferPool = (*Pool)(nil)

// TestGetGivesFullBuffers: a buffer handed back shortened comes out whole again, and a foreign
// one is never lent.
func TestGetGivesFullBuffers(t *testing.T) {
	p := New()
	b := p.Get()
	if len(b) != Size {
		t.Fatalf("len %d, want %d", len(b), Size)
	}
	p.Put(b[:10])
	p.Put(make([]byte, 10))
	for range 3 {
		if got := p.Get(); len(got) != Size {
			t.Fatalf("len %d after Put, want %d", len(got), Size)
		}
	}
}
