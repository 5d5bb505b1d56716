package harness

import (
	"context"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness/containers"
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

// A kept load balancer container goes to one system at a time, only to a system with as many
// listeners (its published ports), and at most maxKept are kept.
func TestKeptLoadBalancers(t *testing.T) {
	ctx := context.Background()
	u := &kongUpstreams{nw: &containers.Network{}}
	first := &containers.Container{}
	free := u.keepALB(first, 1)
	if u.takeALB(1) != nil {
		t.Fatal("a load balancer in use was handed out")
	}
	if err := free(ctx); err != nil {
		t.Fatal(err)
	}
	if u.takeALB(2) != nil {
		t.Fatal("a one-listener load balancer was handed to a two-listener system")
	}
	lb := u.takeALB(1)
	if lb == nil || lb.c != first {
		t.Fatal("the free load balancer was not handed out")
	}
	for range maxKept + 2 {
		u.keepALB(&containers.Container{}, 1)
	}
	if len(u.lbs) != maxKept {
		t.Fatalf("%d load balancers kept, want at most %d", len(u.lbs), maxKept)
	}
}
