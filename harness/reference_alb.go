package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// StartALB starts the echo upstream, the API Gateway stand-in and the ALB emulator on loopback
// ports, the emulator writing its connection log to memory.
func (t *ReferenceTarget) StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference alb: ALBSetup.PKI is required")
	}
	var closers cleanups
	stop := closers.run
	fail := func(err error) (*ALBSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start reference alb: %w", err)
	}
	upCert := setup.PKI.Get(fixtures.Upstream).TLSCertificate()
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Certificate: &upCert, Name: "echo"})
	if err != nil {
		return fail(err)
	}
	closers.add(echo.Close)
	gw, err := apigw.Start(ctx, apigw.Config{Certificate: setup.PKI.Get(fixtures.Server).TLSCertificate(), Domains: setup.Domains})
	if err != nil {
		return fail(err)
	}
	closers.add(gw.Close)
	sys := &ALBSystem{
		Version: "mtlsgate " + version.Version,
		EchoURL: echo.HTTPURL(), EchoTLSURL: echo.HTTPSURL(), APIGWURL: gw.URL(),
		log: &LineBuffer{},
		resolver: map[string]string{
			ALBTargetEcho: hostPort(echo.HTTPURL()), ALBTargetEchoTLS: hostPort(echo.HTTPSURL()), ALBTargetAPIGW: hostPort(gw.URL()),
		},
		domains: gw.SetDomains,
	}
	lb, err := alb.Start(ctx, sys.Resolve(setup.Config), alb.Options{ConnectionLog: sys.log})
	if err != nil {
		return fail(err)
	}
	closers.add(lb.Close)
	sys.ListenerURLs = lb.URLs()
	sys.ClientIP = "127.0.0.1"
	for _, u := range sys.ListenerURLs {
		sys.ListenerPorts = append(sys.ListenerPorts, u[strings.LastIndexByte(u, ':')+1:])
	}
	sys.apply = lb.Reload
	sys.health = lb.TargetHealth
	sys.stop = stop
	return sys, nil
}
