package kong

import (
	"crypto/tls"
	"fmt"

	"github.com/mtlsgate/mtlsgate/internal/ciphername"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// tlsPolicy is ssl_cipher_suite resolved to Go's protocol range and cipher list (SPEC K-TLS-1).
type tlsPolicy struct {
	min, max uint16
	ciphers  []uint16
}

func (p tlsPolicy) config() *tls.Config {
	return &tls.Config{MinVersion: p.min, MaxVersion: p.max, CipherSuites: p.ciphers}
}

// Kong's CIPHER_SUITES (Mozilla SSL configuration 5.7).
const (
	intermediateCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
	oldCiphers          = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA"
	fipsCiphers         = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
)

var protocolVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// SSLProtocols are the values kong.conf's ssl_protocols takes, oldest first.
func SSLProtocols() []string { return []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"} }

// CipherSuite is one of Kong's named ssl_cipher_suite values: the protocols it enables and its
// OpenSSL cipher list ("" for TLS 1.3 only, whose suites are not configurable).
type CipherSuite struct {
	Protocols []string
	Ciphers   string
}

// CipherSuites returns Kong's named ssl_cipher_suite values (kong/conf_loader CIPHER_SUITES,
// Mozilla SSL configuration 5.7): modern, intermediate (the default), old and fips. "custom"
// is not among them: it takes ssl_protocols and ssl_ciphers as given.
func CipherSuites() map[string]CipherSuite {
	return map[string]CipherSuite{
		"modern":       {Protocols: []string{"TLSv1.3"}},
		"intermediate": {Protocols: []string{"TLSv1.2", "TLSv1.3"}, Ciphers: intermediateCiphers},
		"old":          {Protocols: SSLProtocols(), Ciphers: oldCiphers},
		"fips":         {Protocols: []string{"TLSv1.2"}, Ciphers: fipsCiphers},
	}
}

// DefaultCipherSuite is ssl_cipher_suite when kong.conf does not set it.
const DefaultCipherSuite = "intermediate"

func policyFor(c *kongconf.Config) (tlsPolicy, error) {
	name := c.SSLCipherSuite
	if name == "" {
		name = DefaultCipherSuite
	}
	if s, ok := CipherSuites()[name]; ok {
		p := versionRange(s.Protocols)
		p.ciphers = ciphers(s.Ciphers)
		return p, nil
	}
	switch name {
	case "custom":
		p := versionRange(c.SSLProtocols)
		if c.SSLCiphers != "" {
			p.ciphers = ciphers(c.SSLCiphers)
			if len(p.ciphers) == 0 && p.min < tls.VersionTLS13 {
				return p, fmt.Errorf("ssl_ciphers: none of %q is supported", c.SSLCiphers)
			}
		}
		return p, nil
	}
	return tlsPolicy{}, fmt.Errorf("Undefined cipher suite %s", c.SSLCipherSuite)
}

// versionRange is the lowest and highest of protocols.
func versionRange(protocols []string) tlsPolicy {
	p := tlsPolicy{}
	for _, proto := range protocols {
		v := protocolVersions[proto]
		if p.min == 0 || v < p.min {
			p.min = v
		}
		if v > p.max {
			p.max = v
		}
	}
	return p
}

// ciphers reads an OpenSSL cipher list as OpenSSL does; names Go does not implement (DHE,
// CBC-SHA384 …) are skipped, as OpenSSL skips unknown names.
func ciphers(list string) []uint16 { return ciphername.List(list) }
