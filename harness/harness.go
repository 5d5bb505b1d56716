// Package harness starts and configures systems under test. A Target is one gateway
// implementation (mtlsgate's in-process reference by default); it says which SPEC IDs it claims
// and starts a system of a profile for a suite to drive.
package harness

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// TargetEnv is the environment variable that selects the target.
const TargetEnv = "MTLSGATE_TARGET"

// Target is one implementation under test.
type Target interface {
	Name() string
	// Claims reports whether the target implements a behaviour, and if not, why not.
	Claims(id catalog.ID) (bool, string)
	// Supports reports whether the target can do a feature some specs need beyond their ID's.
	Supports(f catalog.Feature) (bool, string)
}

// KongTarget is a target that can run the Kong profile.
type KongTarget interface {
	Target
	StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error)
}

// KongSetup is what a suite asks of a Kong-profile system.
type KongSetup struct {
	PKI *fixtures.PKI
	// Conf holds extra kong.conf lines ("client_ssl = on"); file values may name files the suite
	// wrote.
	Conf []string
}

// KongSystem is a running Kong-profile system and the upstreams it proxies to.
type KongSystem struct {
	// Version is the gateway's own version, for the conformance report.
	Version string
	// Product is the token the gateway announces in Via and Server ("kong/3.10.0",
	// "mtlsgate/0.1.0"); "" when the target cannot tell.
	Product string
	// ProxyURL and ProxyTLSURL are the proxy listeners (http:// and https://) as the suite reaches
	// them; ProxyTLSListenPort is the TLS listener's port as the gateway itself sees it.
	ProxyURL, ProxyTLSURL string
	ProxyTLSListenPort    string
	// AdminURL is the Admin API; Admin is a client for it.
	AdminURL string
	Admin    *kongapi.Client
	// EchoURL is a plain HTTP echo upstream; EchoTLSURL an HTTPS one that asks for (but does not
	// demand) a client certificate and reports it; MTLSEchoURL demands one issued by the PKI's
	// root CA. All are addresses as the gateway reaches them.
	EchoURL, EchoTLSURL, MTLSEchoURL string
	// CRLBaseURL and CRLTLSBaseURL are a CRL responder serving /<issuer>.crl over HTTP and HTTPS
	// (its certificate chains to the PKI's root), as the gateway reaches it; CRL controls it.
	CRLBaseURL, CRLTLSBaseURL string
	CRL                       *upstream.CRLControl
	// OCSP controls the OCSP responder that answers at CRLBaseURL/ocsp/<issuer> (and over TLS at
	// CRLTLSBaseURL/ocsp/<issuer>).
	OCSP *upstream.OCSPControl
	// blackBox is the scenario an unconfigurable system's user described (see BlackBox).
	blackBox *BlackBox
	stop     func(context.Context) error
}

// Stop shuts the system down.
func (s *KongSystem) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	return s.stop(ctx)
}

// targets is the registry of target names; each call builds fresh values.
func targets() map[string]func() Target {
	return map[string]func() Target{
		"reference":           func() Target { return Reference() },
		"reference-container": func() Target { return &ReferenceContainerTarget{} },
		"kong":                func() Target { return &KongTargetImpl{} },
		"external":            func() Target { return &ExternalTarget{} },
		"nginx":               func() Target { return &NginxTarget{} },
		"haproxy":             func() Target { return &HAProxyTarget{} },
	}
}

// Names lists the known target names.
func Names() []string {
	var out []string
	for n := range targets() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Select returns the named target; "" means the embedded reference.
func Select(name string) (Target, error) {
	if name == "" {
		name = "reference"
	}
	mk, ok := targets()[name]
	if !ok {
		return nil, fmt.Errorf("unknown target %q: choose one of %s (set %s)", name, strings.Join(Names(), ", "), TargetEnv)
	}
	return mk(), nil
}

// FromEnv selects the target named by MTLSGATE_TARGET.
func FromEnv() (Target, error) { return Select(os.Getenv(TargetEnv)) }

// claimAll is the Claims of a target that implements whole profiles.
func claimAll(name string, profiles ...catalog.Profile) func(catalog.ID) (bool, string) {
	return func(id catalog.ID) (bool, string) {
		b, ok := catalog.Lookup(id)
		if !ok {
			return false, fmt.Sprintf("%s is not a SPEC ID", id)
		}
		if slices.Contains(profiles, b.Profile) {
			return true, ""
		}
		return false, fmt.Sprintf("%s does not implement the %s profile", name, b.Profile)
	}
}
