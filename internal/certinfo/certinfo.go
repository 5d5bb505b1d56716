// Package certinfo renders certificates the way gateways report them to upstreams: RFC 2253
// names, SAN lists, fingerprints and URL-encoded PEM. Kong's X-Client-Cert-* headers, ALB's
// X-Amzn-Mtls-* headers and the echo upstream's report all use it, so they agree with each other.
package certinfo

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"
)

// DN is the RFC 2253 string of a name, most specific element first (CN=…,O=…,C=…).
func DN(c *x509.Certificate) string { return c.Subject.String() }

// IssuerDN is the RFC 2253 string of the issuer.
func IssuerDN(c *x509.Certificate) string { return c.Issuer.String() }

// SANs lists every subject alternative name value: DNS names, e-mail addresses, URIs, then IP
// addresses, in the order each kind appears in the certificate.
func SANs(c *x509.Certificate) []string {
	var out []string
	out = append(out, c.DNSNames...)
	out = append(out, c.EmailAddresses...)
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// SerialHex is the serial in uppercase hexadecimal, whole bytes (a leading zero digit kept), no
// colons, as ALB's X-Amzn-Mtls-Clientcert-Serial-Number and connection log carry it (AWS's
// example: 03A5B1); a negative serial keeps its minus sign.
func SerialHex(c *x509.Certificate) string {
	s := strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
	if s == "" {
		s = "00"
	}
	if c.SerialNumber.Sign() < 0 {
		return "-" + s
	}
	return s
}

// Fingerprint is the lowercase hex SHA-256 of the DER, the form of Kong's cert_digest.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Validity is ALB's validity string: NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z.
func Validity(c *x509.Certificate) string {
	return "NotBefore=" + c.NotBefore.UTC().Format(time.RFC3339) + ";NotAfter=" + c.NotAfter.UTC().Format(time.RFC3339)
}

// PEM encodes DER certificates as consecutive PEM blocks.
func PEM(ders ...[]byte) string {
	var b strings.Builder
	for _, d := range ders {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d}))
	}
	return b.String()
}

// URLEncodedPEM is ALB's encoding of a PEM chain in a header: percent-encoding as JavaScript's
// encodeURI does it would, except that '+', '=' and '/' stay literal (space → %20, newline → %0A).
func URLEncodedPEM(ders ...[]byte) string {
	const hexdigits = "0123456789ABCDEF"
	p := PEM(ders...)
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || strings.IndexByte("-_.~+=/", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[ch>>4])
		b.WriteByte(hexdigits[ch&15])
	}
	return b.String()
}
