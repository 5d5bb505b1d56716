package alb

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// ALB's trust store limits (Elastic Load Balancing quotas).
const (
	// MaxCACertificates is the most CA certificates one bundle may hold.
	MaxCACertificates = 25
	// MaxCACertificateSize is the largest CA certificate, in bytes of PEM.
	MaxCACertificateSize = 16 * 1024
	// MaxRevocationLists is the most CRLs one trust store may hold.
	MaxRevocationLists = 30
	// MaxRevocationEntries is the most revoked serials all CRLs of a trust store may hold.
	MaxRevocationEntries = 500000
)

// ALB's own error texts (SPEC A-TS-1, A-TS-2); users search for them, so they are exact.
const (
	ErrTextInvalidBundle     = "InvalidCaCertificatesBundle: The specified ca certificate bundle is in an invalid format, or corrupt."
	ErrTextNotACA            = "The basic constraints extension must specify that the certificate is for a CA"
	ErrTextInvalidRevocation = "InvalidRevocationContent"
)

// trustStore is a loaded trust store: its CAs and the revoked serials per issuing CA.
type trustStore struct {
	name string
	cas  []*x509.Certificate
	pool *x509.CertPool
	// revoked maps a CA's raw subject+key to the set of revoked serials (decimal strings).
	revoked map[string]map[string]bool
	entries int
}

// loadTrustStore reads a trust store's bundle and CRLs by ALB's rules. It fails whole.
func loadTrustStore(ts TrustStore) (*trustStore, error) {
	where := fmt.Sprintf("trust store %q", ts.Name)
	if ts.Name == "" {
		return nil, fmt.Errorf("TrustStores: a trust store has no Name; give each one a Name its listeners refer to")
	}
	if ts.CaCertificatesBundleFile == "" {
		return nil, fmt.Errorf("%s: CaCertificatesBundleFile is required", where)
	}
	bundle, err := regularfile.Read(ts.CaCertificatesBundleFile, regularfile.MaxPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: read CA bundle: %w", where, err)
	}
	cas, err := ParseCABundle(bundle)
	if err != nil {
		return nil, fmt.Errorf("%s: CA bundle %q: %w", where, ts.CaCertificatesBundleFile, err)
	}
	out := &trustStore{name: ts.Name, cas: cas, pool: x509.NewCertPool(), revoked: map[string]map[string]bool{}}
	for _, c := range cas {
		out.pool.AddCert(c)
	}
	if len(ts.RevocationContents) > MaxRevocationLists {
		return nil, fmt.Errorf("%s: %d revocation lists; a trust store takes at most %d", where, len(ts.RevocationContents), MaxRevocationLists)
	}
	for i, rc := range ts.RevocationContents {
		if rc.RevocationType != "" && rc.RevocationType != "CRL" {
			return nil, fmt.Errorf("%s: RevocationContents[%d].RevocationType %q: only CRL is supported", where, i, rc.RevocationType)
		}
		b, err := regularfile.Read(rc.File, regularfile.MaxCRL)
		if err != nil {
			return nil, fmt.Errorf("%s: RevocationContents[%d]: read: %w", where, i, err)
		}
		if err := out.addCRL(b); err != nil {
			return nil, fmt.Errorf("%s: RevocationContents[%d] %q: %w", where, i, rc.File, err)
		}
	}
	return out, nil
}

// ParseCABundle checks a CA bundle by ALB's rules (SPEC A-TS-1): PEM certificates only, lines
// starting with # allowed between them, no blank lines, at most 25 certificates of at most 16 KB
// each, every one a CA by its basic constraints. It returns the CAs or the first violation.
func ParseCABundle(b []byte) ([]*x509.Certificate, error) {
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%s (the bundle is empty)", ErrTextInvalidBundle)
	}
	var (
		cas   []*x509.Certificate
		block []string
		in    bool
	)
	for n, line := range strings.Split(text, "\n") {
		lineNo := n + 1
		switch {
		case in:
			block = append(block, line)
			if strings.TrimSpace(line) == "-----END CERTIFICATE-----" {
				in = false
				c, err := parseCABlock(strings.Join(block, "\n")+"\n", len(cas)+1)
				if err != nil {
					return nil, err
				}
				cas = append(cas, c)
				if len(cas) > MaxCACertificates {
					return nil, fmt.Errorf("%s (more than %d CA certificates; a trust store bundle takes at most %d)", ErrTextInvalidBundle, MaxCACertificates, MaxCACertificates)
				}
			} else if strings.TrimSpace(line) == "" {
				return nil, fmt.Errorf("%s (line %d: blank line inside certificate %d; remove blank lines)", ErrTextInvalidBundle, lineNo, len(cas)+1)
			}
		case strings.TrimSpace(line) == "":
			return nil, fmt.Errorf("%s (line %d: blank line; the bundle must not contain blank lines)", ErrTextInvalidBundle, lineNo)
		case strings.HasPrefix(line, "#"):
			// "Comments must be preceded by a # character and must not contain any - characters."
			if strings.Contains(line, "-") {
				return nil, fmt.Errorf("%s (line %d: a # comment must not contain any - character)", ErrTextInvalidBundle, lineNo)
			}
		case strings.TrimSpace(line) == "-----BEGIN CERTIFICATE-----":
			in, block = true, []string{line}
		default:
			return nil, fmt.Errorf("%s (line %d is neither part of a PEM certificate nor a # comment)", ErrTextInvalidBundle, lineNo)
		}
	}
	if in {
		return nil, fmt.Errorf("%s (certificate %d has no END CERTIFICATE line)", ErrTextInvalidBundle, len(cas)+1)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%s (no certificate in the bundle)", ErrTextInvalidBundle)
	}
	return cas, nil
}

func parseCABlock(text string, index int) (*x509.Certificate, error) {
	if len(text) > MaxCACertificateSize {
		return nil, fmt.Errorf("%s (certificate %d is %d bytes; each CA certificate must be at most 16 KB)", ErrTextInvalidBundle, index, len(text))
	}
	p, rest := pem.Decode([]byte(text))
	if p == nil || len(bytes.TrimSpace(rest)) != 0 || p.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s (certificate %d is not valid PEM)", ErrTextInvalidBundle, index)
	}
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s (certificate %d: %v)", ErrTextInvalidBundle, index, err)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return nil, fmt.Errorf("certificate %d (%s): %s", index, c.Subject, ErrTextNotACA)
	}
	return c, nil
}

// addCRL checks one CRL file (PEM or DER) and adds its entries (SPEC A-TS-2): it must parse,
// be signed by a CA of the bundle, and keep the store within the entry limit. Entries with a
// negative serial are ignored: such serials cannot be revoked.
func (t *trustStore) addCRL(b []byte) error {
	der := b
	if p, _ := pem.Decode(b); p != nil {
		if p.Type != "X509 CRL" {
			return fmt.Errorf("%s: PEM block %q is not an X509 CRL", ErrTextInvalidRevocation, p.Type)
		}
		der = p.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("%s: the revocation list cannot be parsed: %v", ErrTextInvalidRevocation, err)
	}
	var issuer *x509.Certificate
	for _, ca := range t.cas {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			issuer = ca
			break
		}
	}
	if issuer == nil {
		return fmt.Errorf("%s: the revocation list is issued by %q, which is not a CA of the trust store's bundle", ErrTextInvalidRevocation, crl.Issuer)
	}
	t.entries += len(crl.RevokedCertificateEntries)
	if t.entries > MaxRevocationEntries {
		return fmt.Errorf("%s: more than %d revoked entries in all lists of the trust store", ErrTextInvalidRevocation, MaxRevocationEntries)
	}
	key := caKey(issuer)
	if t.revoked[key] == nil {
		t.revoked[key] = map[string]bool{}
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber == nil || e.SerialNumber.Sign() < 0 {
			continue
		}
		t.revoked[key][e.SerialNumber.String()] = true
	}
	return nil
}

// isRevoked reports whether cert, issued by issuer, is on one of the store's CRLs.
func (t *trustStore) isRevoked(cert, issuer *x509.Certificate) bool {
	if cert.SerialNumber == nil || cert.SerialNumber.Sign() < 0 {
		return false
	}
	return t.revoked[caKey(issuer)][new(big.Int).Set(cert.SerialNumber).String()]
}

func caKey(c *x509.Certificate) string {
	return string(c.RawSubject) + "\x00" + string(c.RawSubjectPublicKeyInfo)
}
