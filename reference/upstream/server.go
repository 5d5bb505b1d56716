package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mtlsgate/mtlsgate/internal/serve"
)

// Config describes a running echo upstream: its listeners and what it demands.
type Config struct {
	// HTTPAddr and HTTPSAddr are listen addresses; empty leaves that listener off.
	HTTPAddr, HTTPSAddr string
	// Certificate is served on HTTPS.
	Certificate *tls.Certificate
	// ClientCAs, when set, demands client certificates from these CAs on HTTPS.
	ClientCAs *x509.CertPool
	// Name is echoed back as "upstream".
	Name string
	// CRL, when set, is served at /<issuer>.crl on every listener.
	CRL *CRLResponder
	// OCSP, when set, answers OCSP requests at /ocsp/<issuer> on every listener.
	OCSP *OCSPResponder
	// Log receives the listeners' internal errors (refused handshakes among them); nil sends
	// them to the standard logger.
	Log *slog.Logger
}

// Server is a running echo upstream.
type Server struct {
	http, https *serve.Server
}

// Start binds the configured listeners and serves the echo on each.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.HTTPAddr == "" && cfg.HTTPSAddr == "" {
		return nil, errors.New("start upstream: no listener: set an HTTP or HTTPS address")
	}
	if cfg.HTTPSAddr != "" && cfg.Certificate == nil {
		return nil, errors.New("start upstream: HTTPS needs a certificate and key")
	}
	h := NewEcho(EchoOptions{ClientCAs: cfg.ClientCAs, Name: cfg.Name, CRL: cfg.CRL, OCSP: cfg.OCSP})
	s := &Server{}
	var err error
	if cfg.HTTPAddr != "" {
		if s.http, err = serve.Listen(ctx, cfg.HTTPAddr, h, serve.Options{ErrorLog: cfg.Log}); err != nil {
			return nil, fmt.Errorf("start upstream: %w", err)
		}
	}
	if cfg.HTTPSAddr != "" {
		s.https, err = serve.Listen(ctx, cfg.HTTPSAddr, h, serve.Options{TLS: TLSConfig(*cfg.Certificate, cfg.ClientCAs), ErrorLog: cfg.Log})
		if err != nil {
			if s.http != nil {
				_ = s.http.Close(ctx)
			}
			return nil, fmt.Errorf("start upstream: %w", err)
		}
	}
	return s, nil
}

// HTTPURL is the base URL of the plain listener, or "" when it is off.
func (s *Server) HTTPURL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL()
}

// HTTPSURL is the base URL of the TLS listener, or "" when it is off.
func (s *Server) HTTPSURL() string {
	if s.https == nil {
		return ""
	}
	return s.https.URL()
}

// Close shuts both listeners down.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for _, l := range []*serve.Server{s.http, s.https} {
		if l != nil {
			errs = append(errs, l.Close(ctx))
		}
	}
	return errors.Join(errs...)
}
