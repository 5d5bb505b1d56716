package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// BlackBox is a scenario a Kong-profile gateway already serves: a route protected by mtls-auth
// and a client certificate it accepts. Black-box specs drive it without changing the gateway's
// configuration, so they can certify a gateway nobody lets mtlsgate reconfigure.
type BlackBox struct {
	// Path is the protected route's path ("/mtls" in the walkthrough).
	Path string
	// Accepted is a client certificate (with its chain) the gateway maps to a consumer.
	Accepted tls.Certificate
}

// BlackBox returns the system's black-box scenario. A system with an Admin API is configured
// with the README's walkthrough first (the root CA trusted by a global mtls-auth, /mtls to the
// echo, consumer demo@apim.eu), so the same specs run against every target (the suite has reset
// it, so a scenario its user described is gone); a system without one returns that scenario.
func (s *KongSystem) BlackBox(ctx context.Context, p *fixtures.PKI) (*BlackBox, error) {
	if s.Admin == nil {
		if s.blackBox == nil {
			return nil, errors.New("black-box scenario: the system has no Admin API and its user described none")
		}
		return s.blackBox, nil
	}
	if err := walkthrough(ctx, s.Admin, p, s.EchoURL); err != nil {
		return nil, fmt.Errorf("black-box scenario: %w", err)
	}
	return &BlackBox{Path: "/mtls", Accepted: p.Get(fixtures.Client).TLSCertificate()}, nil
}

// walkthrough configures the Client → Kong walkthrough through an Admin API.
func walkthrough(ctx context.Context, admin *kongapi.Client, p *fixtures.PKI, echoURL string) error {
	_, err := framework.Walkthrough{
		CAPEM: p.Get(fixtures.RootCA).CertPEM(), Name: "blackbox-echo", ServiceURL: echoURL + "/anything",
		Paths: []string{"/mtls"}, Consumers: []string{fixtures.ClientCommonName},
	}.Apply(ctx, admin)
	return err
}
