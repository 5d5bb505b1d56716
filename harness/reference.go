package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// ReferenceTarget is mtlsgate's own reference gateway, run in-process: the default target, which
// needs neither Docker nor network access beyond loopback.
type ReferenceTarget struct{}

// Reference returns the in-process reference target.
func Reference() *ReferenceTarget { return &ReferenceTarget{} }

// Name implements Target.
func (*ReferenceTarget) Name() string { return "reference" }

// Claims implements Target: the reference implements every Kong and ALB behaviour, and takes
// the Load profile's traffic.
func (t *ReferenceTarget) Claims(id catalog.ID) (bool, string) {
	return claimAll(t.Name(), catalog.Kong, catalog.ALB, catalog.Load)(id)
}

// Supports implements Target: the reference does everything the suites ask.
func (*ReferenceTarget) Supports(catalog.Feature) (bool, string) { return true, "" }

// StartKong starts the echo upstreams and the Kong-compatible gateway on loopback ports.
func (t *ReferenceTarget) StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference kong: KongSetup.PKI is required")
	}
	var closers cleanups
	stop := closers.run
	fail := func(err error) (*KongSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start reference kong: %w", err)
	}

	ups, err := startLocalUpstreams(ctx, setup.PKI)
	if err != nil {
		return fail(err)
	}
	closers.add(ups.Close)

	lines := append([]string{
		"proxy_listen = 127.0.0.1:0, 127.0.0.1:0 http2 ssl",
		"admin_listen = 127.0.0.1:0",
		"status_listen = off",
	}, setup.Conf...)
	conf, err := kongconf.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "kong.conf (reference target)", nil)
	if err != nil {
		return fail(err)
	}
	g, err := kong.New(kong.Options{Config: conf})
	if err != nil {
		return fail(err)
	}
	if err := g.Start(ctx); err != nil {
		return fail(err)
	}
	closers.add(g.Close)
	admin := g.URL("admin", false)
	sys := &KongSystem{
		Version: "mtlsgate " + version.Version, Product: version.Server,
		ProxyURL: g.URL("proxy", false), ProxyTLSURL: g.URL("proxy", true), ProxyTLSListenPort: portOf(g.URL("proxy", true)),
		AdminURL: admin, Admin: kongapi.New(admin, nil),
		stop: stop,
	}
	ups.fill(sys)
	return sys, nil
}

// portOf is the port of a base URL.
func portOf(u string) string { return u[strings.LastIndexByte(u, ':')+1:] }
