package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness/containers"
	"github.com/mtlsgate/mtlsgate/internal/controlapi"
)

// SharedKeeper is a target whose systems share things: an image to build, containers (the
// upstreams, the API Gateway stand-in). A suite that starts a system per spec calls KeepShared
// once, in BeforeSuite, and defers the returned release: the image is built there, outside any
// spec's timeout, and the shared containers start with the first system and stay up until the
// release, instead of starting and stopping with every spec.
type SharedKeeper interface {
	KeepShared(ctx context.Context) (release func(context.Context) error, err error)
}

// KeepShared implements SharedKeeper: it builds the mtlsgate image now, and the upstream
// containers, the API Gateway stand-in and the ALB systems' load balancer container stay up
// between systems until release, which removes them once no system uses them.
func (t *ReferenceContainerTarget) KeepShared(ctx context.Context) (func(context.Context) error, error) {
	eng, err := t.engine.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", t.Name(), err)
	}
	if _, err := eng.MtlsgateImage(ctx); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", t.Name(), err)
	}
	return t.ups.keepShared(), nil
}

// keepShared keeps the shared containers between users until the returned release.
func (u *kongUpstreams) keepShared() func(context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.keep++
	return func(ctx context.Context) error {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.keep--
		if u.refs > 0 || u.keep > 0 {
			return nil
		}
		return u.stop(ctx)
	}
}

// maxKept bounds the containers of each kind (API Gateway stand-ins, load balancers) kept for
// the ALB systems of a target: enough for the specs that run several systems at once.
const maxKept = 4

// sharedAPIGW is an API Gateway stand-in container kept for the ALB systems of a target, one at a
// time each: a system sets its own domains (none included) when it takes it.
type sharedAPIGW struct {
	c     *containers.Container
	alias string
	busy  bool
}

// acquireAPIGW returns an API Gateway stand-in for one ALB system, its network alias and how to
// let it go. A kept one is handed out when free; otherwise one starts, numbered n, and is kept
// for later systems (up to maxKept; past that it is stopped on release).
func (u *kongUpstreams) acquireAPIGW(ctx context.Context, image, n string) (*containers.Container, string, func(context.Context) error, error) {
	u.mu.Lock()
	for _, gw := range u.gws {
		if !gw.busy {
			gw.busy = true
			u.mu.Unlock()
			return gw.c, gw.alias, u.freeAPIGW(gw), nil
		}
	}
	if len(u.gws) == 0 {
		// The first one takes the plain alias; holding the lock keeps a second system from
		// starting another in the meantime.
		defer u.mu.Unlock()
		c, err := u.startAPIGW(ctx, image, apigwAlias)
		if err != nil {
			return nil, "", nil, err
		}
		gw := &sharedAPIGW{c: c, alias: apigwAlias, busy: true}
		u.gws = append(u.gws, gw)
		return c, apigwAlias, u.freeAPIGW(gw), nil
	}
	u.mu.Unlock()
	alias := apigwAlias + "-" + n
	c, err := u.startAPIGW(ctx, image, alias)
	if err != nil {
		return nil, "", nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.gws) >= maxKept || u.nw == nil {
		return c, alias, c.Terminate, nil
	}
	gw := &sharedAPIGW{c: c, alias: alias, busy: true}
	u.gws = append(u.gws, gw)
	return c, alias, u.freeAPIGW(gw), nil
}

// freeAPIGW hands a kept stand-in back.
func (u *kongUpstreams) freeAPIGW(gw *sharedAPIGW) func(context.Context) error {
	return func(context.Context) error {
		u.mu.Lock()
		defer u.mu.Unlock()
		gw.busy = false
		return nil
	}
}

// startAPIGW starts an API Gateway stand-in (serve apigw) on the shared network, with the
// server certificate and its control API; a container that failed to start is removed.
func (u *kongUpstreams) startAPIGW(ctx context.Context, image, alias string) (*containers.Container, error) {
	var files []containers.File
	for _, f := range u.pkiFiles {
		if f.Path == "/pki/"+fixtures.Server+".crt" || f.Path == "/pki/"+fixtures.Server+".key" {
			files = append(files, f)
		}
	}
	gw, err := u.nw.Start(ctx, containers.Request{
		Image: image, Alias: alias, Files: files, Ports: []string{apigwPort, containerStatusPort},
		Cmd: []string{"serve", "apigw", "--listen", "0.0.0.0:443", "--cert", "/pki/" + fixtures.Server + ".crt", "--key", "/pki/" + fixtures.Server + ".key",
			"--status-listen", "0.0.0.0:8100"},
		Wait: wait.ForHTTP(controlapi.PathReady).WithPort(containerStatusPort).WithStartupTimeout(albControlWait),
	})
	if err != nil {
		if gw != nil {
			err = errors.Join(err, gw.Terminate(context.Background()))
		}
		return nil, fmt.Errorf("start the API Gateway stand-in %s: %w", alias, err)
	}
	return gw, nil
}

// sharedALB is a load balancer container kept for the ALB systems of a target, one at a time:
// the next system with as many listeners (so the same published ports) restarts it from its own
// configuration through the control API (POST /restart: a new load balancer, nothing carried
// over, the connection log emptied) instead of starting and stopping a container of its own.
type sharedALB struct {
	c         *containers.Container
	listeners int
	busy      bool
}

// takeALB hands out a kept load balancer container that is free and publishes the ports of
// listeners listeners; nil if there is none.
func (u *kongUpstreams) takeALB(listeners int) *sharedALB {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, lb := range u.lbs {
		if !lb.busy && lb.listeners == listeners {
			lb.busy = true
			return lb
		}
	}
	return nil
}

// keepALB keeps c, a load balancer container just started with listeners listeners, for later
// systems (up to maxKept), and returns how its system lets it go: back to the keeper, or
// terminated.
func (u *kongUpstreams) keepALB(c *containers.Container, listeners int) func(context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.lbs) >= maxKept || u.nw == nil {
		return c.Terminate
	}
	lb := &sharedALB{c: c, listeners: listeners, busy: true}
	u.lbs = append(u.lbs, lb)
	return u.freeALB(lb)
}

// freeALB hands a kept load balancer back; it runs its last system's configuration until the
// next system restarts it.
func (u *kongUpstreams) freeALB(lb *sharedALB) func(context.Context) error {
	return func(context.Context) error {
		u.mu.Lock()
		defer u.mu.Unlock()
		lb.busy = false
		return nil
	}
}

// dropALB terminates a kept load balancer after a failed restart (no load balancer may run in
// it) and forgets it, so a later system starts a container of its own.
func (u *kongUpstreams) dropALB(ctx context.Context, lb *sharedALB) error {
	u.mu.Lock()
	u.lbs = slices.DeleteFunc(u.lbs, func(k *sharedALB) bool { return k == lb })
	u.mu.Unlock()
	return lb.c.Terminate(ctx)
}
