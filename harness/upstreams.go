package harness

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// localUpstreams are the mock upstreams every loopback Kong-profile system proxies to: an echo
// (HTTP and HTTPS, also the CRL distribution point) and an echo that demands a client certificate
// from the PKI's root CA. Targets whose gateway runs on this host share them (reference, nginx,
// external).
type localUpstreams struct {
	echo, mtlsEcho *upstream.Server
}

// quiet takes the mock upstreams' refused handshakes, which specs cause on purpose, off the
// console of a conformance run; the specs check what the clients saw.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startLocalUpstreams starts the mock upstreams on 127.0.0.1 ports.
func startLocalUpstreams(ctx context.Context, p *fixtures.PKI) (*localUpstreams, error) {
	upCert := p.Get(fixtures.Upstream).TLSCertificate()
	ocsp, err := upstream.NewOCSPResponder()
	if err != nil {
		return nil, err
	}
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Certificate: &upCert,
		Name: "echo", CRL: upstream.NewCRLResponder(), OCSP: ocsp, Log: quiet()})
	if err != nil {
		return nil, err
	}
	mtlsEcho, err := upstream.Start(ctx, upstream.Config{HTTPSAddr: "127.0.0.1:0", Certificate: &upCert,
		ClientCAs: p.Pool(fixtures.RootCA), Name: "mtls-echo", Log: quiet()})
	if err != nil {
		return nil, errors.Join(err, echo.Close(context.Background()))
	}
	return &localUpstreams{echo: echo, mtlsEcho: mtlsEcho}, nil
}

// fill sets the upstream fields of a system to these upstreams.
func (u *localUpstreams) fill(s *KongSystem) {
	s.EchoURL, s.EchoTLSURL, s.MTLSEchoURL = u.echo.HTTPURL(), u.echo.HTTPSURL(), u.mtlsEcho.HTTPSURL()
	s.CRLBaseURL, s.CRLTLSBaseURL, s.CRL = u.echo.HTTPURL(), u.echo.HTTPSURL(), upstream.NewCRLControl(u.echo.HTTPURL())
	s.OCSP = upstream.NewOCSPControl(u.echo.HTTPURL())
}

// Close stops both upstreams.
func (u *localUpstreams) Close(ctx context.Context) error {
	return errors.Join(u.mtlsEcho.Close(ctx), u.echo.Close(ctx))
}

// startALBUpstreams starts what stands behind a loopback ALB-profile system, the echo and the API
// Gateway stand-in, registers their stops in closers, and returns the system with their URLs,
// target resolver and domain control filled in; the caller adds the load balancer.
func startALBUpstreams(ctx context.Context, setup ALBSetup, closers *cleanups) (*ALBSystem, error) {
	upCert := setup.PKI.Get(fixtures.Upstream).TLSCertificate()
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Certificate: &upCert, Name: "echo", Log: quiet()})
	if err != nil {
		return nil, err
	}
	closers.add(echo.Close)
	gw, err := apigw.Start(ctx, apigw.Config{Certificate: setup.PKI.Get(fixtures.Server).TLSCertificate(), Domains: setup.Domains, Log: quiet()})
	if err != nil {
		return nil, err
	}
	closers.add(gw.Close)
	return &ALBSystem{
		EchoURL: echo.HTTPURL(), EchoTLSURL: echo.HTTPSURL(), APIGWURL: gw.URL(),
		log: &LineBuffer{},
		resolver: map[string]string{
			ALBTargetEcho: hostPort(echo.HTTPURL()), ALBTargetEchoTLS: hostPort(echo.HTTPSURL()), ALBTargetAPIGW: hostPort(gw.URL()),
		},
		domains: gw.SetDomains,
	}, nil
}
