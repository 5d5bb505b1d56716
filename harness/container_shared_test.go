package harness

import (
	"context"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// The shared containers outlive their last system while KeepShared holds them, and are removed
// when the last hold and the last system are gone, in either order.
func TestKeepSharedHoldsTheUpstreams(t *testing.T) {
	ctx := context.Background()
	p := &fixtures.PKI{}
	up := func() *kongUpstreams { return &kongUpstreams{pki: p, refs: 1} }

	u := up()
	release := u.keepShared()
	if err := u.release(ctx); err != nil {
		t.Fatal(err)
	}
	if u.pki != p {
		t.Fatal("the last system's release stopped the upstreams while KeepShared held them")
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if u.pki != nil {
		t.Fatal("releasing the hold with no system left did not stop the upstreams")
	}

	u = up()
	release = u.keepShared()
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if u.pki != p {
		t.Fatal("releasing the hold stopped upstreams a system still uses")
	}
	if err := u.release(ctx); err != nil {
		t.Fatal(err)
	}
	if u.pki != nil {
		t.Fatal("the last system's release did not stop the upstreams once the hold was gone")
	}
}
