// Package apigw is a stand-in for a private Amazon API Gateway REST API reached through a custom
// domain name (SPEC A-APIGW-1): the target an ALB in mTLS verify mode forwards to in the
// "ALB trust store in front of a private API Gateway" walkthrough.
//
// It reproduces what that walkthrough depends on: the listener speaks TLS 1.2 only (so the ALB's
// target group must be HTTPS with a TLS 1.2-capable policy); a request whose Host is not a custom
// domain name with an API mapping gets 403 {"message":"Forbidden"} (so the ALB health check needs
// matcher 403); a mapped domain routes by base path to a stage of the PetStore sample API, and a
// path the API does not define gets 403 {"message":"Missing Authentication Token"}.
package apigw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/mtlsgate/mtlsgate/internal/serve"
)

// APIPetStore names the PetStore sample API, the one API the stand-in can map a domain to.
const APIPetStore = "petstore"

// RootBasePath is how API Gateway spells the empty base path; Mapping.BasePath may use it or "".
const RootBasePath = "(none)"

// Mapping is one API mapping of a custom domain name: requests under /BasePath go to Stage of API.
type Mapping struct {
	// BasePath is "" or "(none)" for the root mapping, else one or more path segments without
	// leading or trailing "/" (e.g. "v1" or "orders/v2").
	BasePath string
	// Stage is the deployed stage the mapping points at (e.g. "prod").
	Stage string
	// API is the API behind the stage; only "petstore" exists here, and "" means it.
	API string
}

// Domain is a custom domain name with its API mappings; the name is matched case-insensitively
// against the request's Host without its port.
type Domain struct {
	Name     string
	Mappings []Mapping
}

// Config describes a stand-in: where it listens, the certificate it presents and its domains.
type Config struct {
	// Addr is the listen address; "" means 127.0.0.1:0 (a free loopback port).
	Addr string
	// Certificate is the server certificate (the custom domain's ACM certificate in AWS).
	Certificate tls.Certificate
	// Domains are the custom domain names; none means every request is 403 Forbidden.
	Domains []Domain
	// Log, when set, receives listener errors such as refused TLS 1.3 handshakes.
	Log *slog.Logger
}

// Server is a running stand-in.
type Server struct {
	srv    *serve.Server
	routes atomic.Pointer[table]
}

// Start validates cfg, binds the listener and serves until Close. ctx bounds only the bind.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if len(cfg.Certificate.Certificate) == 0 || cfg.Certificate.PrivateKey == nil {
		return nil, errors.New("start apigw: certificate: empty: set Config.Certificate to the custom domain's certificate and key")
	}
	t, err := newTable(cfg.Domains)
	if err != nil {
		return nil, fmt.Errorf("start apigw: %w", err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := &Server{}
	s.routes.Store(t)
	s.srv, err = serve.Listen(ctx, addr, &handler{routes: &s.routes}, serve.Options{
		TLS:      TLSConfig(cfg.Certificate),
		ErrorLog: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("start apigw: %w", err)
	}
	return s, nil
}

// TLSConfig is the stand-in's server TLS configuration: TLS 1.2 and nothing else, as an API
// Gateway endpoint with a TLS_1_2 security policy negotiates with an ALB target group.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
	}
}

// URL is the listener's base URL, https://127.0.0.1:PORT for a loopback or wildcard bind.
func (s *Server) URL() string { return s.srv.URL() }

// SetDomains replaces the custom domain names at runtime, as creating or deleting domain names and
// API mappings does. Invalid input returns an error naming the field and leaves the old domains.
func (s *Server) SetDomains(ds []Domain) error {
	t, err := newTable(ds)
	if err != nil {
		return fmt.Errorf("set apigw domains: %w", err)
	}
	s.routes.Store(t)
	return nil
}

// Domains returns a copy of the domains being served, so callers can show or extend them.
func (s *Server) Domains() []Domain { return s.routes.Load().domains() }

// Close stops the listener, waiting up to ctx for in-flight requests.
func (s *Server) Close(ctx context.Context) error {
	if err := s.srv.Close(ctx); err != nil {
		return fmt.Errorf("close apigw: %w", err)
	}
	return nil
}
