package kong

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"

	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// globals are the kong.conf settings that apply to every upstream connection unless a service
// overrides them (SPEC K-UP-1, K-UP-5).
type globals struct {
	// clientCert is client_ssl_cert when client_ssl is on.
	clientCert *tls.Certificate
	// verify, roots and depth come from nginx_proxy_proxy_ssl_verify,
	// nginx_proxy_proxy_ssl_trusted_certificate and nginx_proxy_proxy_ssl_verify_depth.
	verify   bool
	roots    *x509.CertPool
	rootsKey string
	depth    int
}

// upstreamTLS is a service's resolved TLS identity and trust towards its upstream.
type upstreamTLS struct {
	clientCert *tls.Certificate
	verify     bool
	roots      *x509.CertPool
	depth      int
	serverName string
	// key fingerprints all of the above, so a change makes a new transport.
	key string
}

// certPair is a compiled certificates entity: the main pair and the optional alternative.
type certPair struct {
	id   string
	main tls.Certificate
	alt  *tls.Certificate
}

func (c *certPair) list() []tls.Certificate {
	if c.alt == nil {
		return []tls.Certificate{c.main}
	}
	return []tls.Certificate{c.main, *c.alt}
}

// balancer is a compiled upstreams entity: weighted round-robin over its targets.
type balancer struct {
	name       string
	hostHeader string
	clientCert *certPair
	targets    []target
	total      int
	next       *atomic.Uint64
}

type target struct {
	host   string
	port   int
	weight int
}

// pick returns the next target by weight; ok is false when no target can take traffic.
func (b *balancer) pick() (target, bool) {
	if b.total == 0 {
		return target{}, false
	}
	n := int(b.next.Add(1)-1) % b.total
	for _, t := range b.targets {
		if n < t.weight {
			return t, true
		}
		n -= t.weight
	}
	return b.targets[0], true
}

func parseTarget(s string) (target, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return target{host: strings.Trim(s, "[]"), port: 8000}, nil // Kong's default target port
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return target{}, fmt.Errorf("target %q: bad port", s)
	}
	return target{host: host, port: port}, nil
}

// resolveTLS applies Kong's precedence: the service's client_certificate, else its upstream's,
// else the global client_ssl_cert; service tls_verify true/false, else the global
// proxy_ssl_verify; the service's ca_certificates, else the global trusted certificate.
func resolveTLS(s *service, e map[string]any, certs map[string]*certPair, cas map[string]*x509.Certificate, g globals) (upstreamTLS, error) {
	t := upstreamTLS{verify: g.verify, roots: g.roots, depth: g.depth, serverName: s.host}
	keyParts := []string{}
	switch {
	case admin.RefID(e["client_certificate"]) != "":
		c := certs[admin.RefID(e["client_certificate"])]
		if c == nil {
			return t, fmt.Errorf("service %s: client_certificate %s does not exist", s.id, admin.RefID(e["client_certificate"]))
		}
		t.clientCert = &c.main
	case s.balancer != nil && s.balancer.clientCert != nil:
		t.clientCert = &s.balancer.clientCert.main
	case g.clientCert != nil:
		t.clientCert = g.clientCert
	}
	if t.clientCert != nil {
		keyParts = append(keyParts, "cert="+certinfo.Fingerprint(t.clientCert.Certificate[0]))
	}
	if v, ok := e["tls_verify"].(bool); ok {
		t.verify = v
	}
	rootsKey := g.rootsKey
	if ids := admin.Strings(e["ca_certificates"]); len(ids) > 0 {
		t.roots = x509.NewCertPool()
		var digests []string
		for _, id := range ids {
			c, ok := cas[id]
			if !ok {
				return t, fmt.Errorf("service %s: CA Certificate '%s' does not exist", s.id, id)
			}
			t.roots.AddCert(c)
			digests = append(digests, certinfo.Fingerprint(c.Raw))
		}
		rootsKey = strings.Join(digests, ",")
	}
	if d, ok := e["tls_verify_depth"]; ok && d != nil {
		t.depth = int(admin.Int(d))
	}
	if s.balancer != nil {
		t.serverName = s.balancer.name
		if s.balancer.hostHeader != "" {
			t.serverName = s.balancer.hostHeader
		}
	}
	keyParts = append(keyParts, fmt.Sprintf("verify=%v", t.verify), "roots="+rootsKey, fmt.Sprintf("depth=%d", t.depth), "sni="+t.serverName)
	t.key = strings.Join(keyParts, "|")
	return t, nil
}

// config is the client TLS configuration for this identity and trust. The certificate is always
// presented when the upstream asks, whatever CA names it lists, as nginx's proxy_ssl_certificate.
func (t upstreamTLS) config() *tls.Config {
	c := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // verification, when on, is VerifyPeerCertificate
	if net.ParseIP(t.serverName) == nil {
		c.ServerName = t.serverName
	}
	if t.clientCert != nil {
		cert := t.clientCert
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if t.verify {
		roots, depth, name := t.roots, t.depth, t.serverName
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyUpstream(raw, roots, depth, name)
		}
	}
	return c
}

var errNoTrustedCA = errors.New("upstream SSL certificate verify error: unable to get local issuer certificate (no trusted CA)")

// verifyUpstream is nginx's proxy_ssl_verify: the chain must reach a trusted CA with at most
// depth intermediates, and the certificate must name the upstream host.
func verifyUpstream(raw [][]byte, roots *x509.CertPool, depth int, name string) error {
	if roots == nil {
		return errNoTrustedCA
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("upstream SSL certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return errors.New("upstream sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name})
	if err != nil {
		return fmt.Errorf("upstream SSL certificate verify error: %w", err)
	}
	for _, ch := range chains {
		if len(ch)-2 <= depth {
			return nil
		}
	}
	return fmt.Errorf("upstream SSL certificate verify error: certificate chain too long (depth %d)", depth)
}
