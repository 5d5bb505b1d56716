package framework

import (
	"context"
	"fmt"

	"github.com/mtlsgate/mtlsgate/kongapi"
	"github.com/mtlsgate/mtlsgate/reference/kong"
)

// Walkthrough is the README's Client → Kong walkthrough as values: a CA certificate trusted by
// a global mtls-auth, a service to the echo, a route to it, and consumers named like the client
// certificates' CNs. The suites, the black-box scenario, the load scenarios and the bench all
// set it up through Apply, each with its own names.
type Walkthrough struct {
	// CAPEM is the CA certificate mtls-auth trusts.
	CAPEM []byte
	// Plugin is extra mtls-auth configuration (revocation_check_mode, cert_cache_ttl, …);
	// ca_certificates is set from CAPEM.
	Plugin map[string]any
	// Name names the service and the route ("" leaves them unnamed).
	Name string
	// ServiceURL is the echo's URL the service proxies to.
	ServiceURL string
	// Paths are the route's paths ("/mtls" in the README).
	Paths []string
	// StripPath is the route's strip_path; nil keeps Kong's default (true).
	StripPath *bool
	// Consumers are created by username, each a client certificate's CN.
	Consumers []string
}

// Configured is what Apply created, for specs that refer to it.
type Configured struct {
	// CAID is the ca_certificates entity's id.
	CAID string
	// Service is the echo service.
	Service *kongapi.Service
}

// Apply configures the walkthrough through an Admin API, in the README's order; the first call
// that fails ends it, its error naming the step.
func (w Walkthrough) Apply(ctx context.Context, admin *kongapi.Client) (*Configured, error) {
	ca, err := admin.CreateCACertificate(ctx, string(w.CAPEM))
	if err != nil {
		return nil, fmt.Errorf("upload the CA certificate: %w", err)
	}
	cfg := map[string]any{"ca_certificates": []string{ca.ID}}
	for k, v := range w.Plugin {
		cfg[k] = v
	}
	if _, err := admin.CreatePlugin(ctx, kongapi.Plugin{Name: kong.MTLSAuthName, Config: cfg}); err != nil {
		return nil, fmt.Errorf("enable %s: %w", kong.MTLSAuthName, err)
	}
	svc, err := admin.CreateService(ctx, kongapi.Service{Name: w.Name, URL: w.ServiceURL})
	if err != nil {
		return nil, fmt.Errorf("create the echo service: %w", err)
	}
	if _, err := admin.CreateRoute(ctx, kongapi.Route{Name: w.Name, Paths: w.Paths, StripPath: w.StripPath, Service: &kongapi.Ref{ID: svc.ID}}); err != nil {
		return nil, fmt.Errorf("create the route %v: %w", w.Paths, err)
	}
	for _, name := range w.Consumers {
		if _, err := admin.CreateConsumer(ctx, kongapi.Consumer{Username: name}); err != nil {
			return nil, fmt.Errorf("create consumer %q: %w", name, err)
		}
	}
	return &Configured{CAID: ca.ID, Service: svc}, nil
}
