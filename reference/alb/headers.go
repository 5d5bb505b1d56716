package alb

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"
)

// The headers ALB adds for targets (SPEC A-MODE-2, A-HDR-1), under their default names.
const (
	HeaderClientCert   = "X-Amzn-Mtls-Clientcert"
	HeaderSerialNumber = "X-Amzn-Mtls-Clientcert-Serial-Number"
	HeaderIssuer       = "X-Amzn-Mtls-Clientcert-Issuer"
	HeaderSubject      = "X-Amzn-Mtls-Clientcert-Subject"
	HeaderValidity     = "X-Amzn-Mtls-Clientcert-Validity"
	HeaderLeaf         = "X-Amzn-Mtls-Clientcert-Leaf"
)

// mtlsHeaderPrefix is the prefix of every header ALB's mTLS owns; clients may not send them.
const mtlsHeaderPrefix = "X-Amzn-Mtls-"

// HeaderNames are a listener's mTLS header names after its renaming attributes (SPEC A-HDR-1).
type HeaderNames struct {
	ClientCert, SerialNumber, Issuer, Subject, Validity, Leaf string
}

// All lists the names in ALB's order: the passthrough header, then the five verify headers.
func (h HeaderNames) All() []string {
	return []string{h.ClientCert, h.SerialNumber, h.Issuer, h.Subject, h.Validity, h.Leaf}
}

// HeaderAttribute is the listener attribute that renames one header, e.g.
// routing.http.request.x_amzn_mtls_clientcert_subject.header_name for X-Amzn-Mtls-Clientcert-Subject.
func HeaderAttribute(header string) string {
	return "routing.http.request." + strings.ToLower(strings.ReplaceAll(header, "-", "_")) + ".header_name"
}

// ValidHeaderName reports whether s may rename an mTLS header: an HTTP token of 1 to 40
// characters, ALB's limit. Renderers for other load balancers check names by the same rule.
func ValidHeaderName(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+.^_`|~-", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// ParseHeaderAttributes reads a listener's attributes: the six header_name attributes are
// known, anything else is an error naming the key; a renamed header is in canonical form.
// Renderers for other load balancers read the attributes with it.
func ParseHeaderAttributes(attrs []Attribute, where string) (HeaderNames, error) {
	h := HeaderNames{HeaderClientCert, HeaderSerialNumber, HeaderIssuer, HeaderSubject, HeaderValidity, HeaderLeaf}
	slots := map[string]*string{
		HeaderAttribute(HeaderClientCert): &h.ClientCert, HeaderAttribute(HeaderSerialNumber): &h.SerialNumber,
		HeaderAttribute(HeaderIssuer): &h.Issuer, HeaderAttribute(HeaderSubject): &h.Subject,
		HeaderAttribute(HeaderValidity): &h.Validity, HeaderAttribute(HeaderLeaf): &h.Leaf,
	}
	for i, a := range attrs {
		slot, ok := slots[a.Key]
		if !ok {
			return HeaderNames{}, fmt.Errorf("%s.Attributes[%d]: unknown listener attribute %q; ALB knows %s",
				where, i, a.Key, strings.Join(knownAttributes(), ", "))
		}
		if !ValidHeaderName(a.Value) {
			return HeaderNames{}, fmt.Errorf("%s.Attributes[%d] %s: %q is not a valid header name (1–40 token characters)", where, i, a.Key, a.Value)
		}
		*slot = http.CanonicalHeaderKey(a.Value)
	}
	return h, nil
}

func knownAttributes() []string {
	var out []string
	for _, h := range []string{HeaderClientCert, HeaderSerialNumber, HeaderIssuer, HeaderSubject, HeaderValidity, HeaderLeaf} {
		out = append(out, HeaderAttribute(h))
	}
	return out
}

// strip removes every X-Amzn-Mtls-* header and any renamed one the client sent (SPEC A-HDR-2).
func (h HeaderNames) strip(hdr http.Header) {
	for k := range hdr {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), mtlsHeaderPrefix) {
			delete(hdr, k)
		}
	}
	for _, n := range h.All() {
		hdr.Del(n)
	}
}

// setPassthrough adds the whole chain, leaf first, URL-encoded (SPEC A-MODE-2).
func (h HeaderNames) setPassthrough(hdr http.Header, chain []*x509.Certificate) {
	if len(chain) == 0 {
		return
	}
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	hdr.Set(h.ClientCert, certinfo.URLEncodedPEM(ders...))
}

// leafValues are the values of a verified leaf's headers (SPEC A-HDR-1), rendered by renderLeaf
// and shared, read-only, by every connection presenting that leaf (see leafCache).
type leafValues struct{ serial, issuer, subject, validity, pem string }

// leafCache keeps the rendered header values of the leaves clients present, keyed by the leaf's
// DER: the values are a function of the certificate alone, and clients reconnect with the same
// one, so a new connection reuses them instead of rendering its own (about 7 KiB of allocation
// per handshake) and holding its own copy (about 1.5 KiB) for as long as it stays open.
type leafCache struct{ digestCache[*leafValues] }

// get returns leaf's values, rendered on first use.
func (c *leafCache) get(leaf *x509.Certificate) *leafValues {
	key := sha256.Sum256(leaf.Raw)
	if v, ok := c.digestCache.get(key); ok {
		return v
	}
	r := renderLeaf(leaf)
	c.put(key, &r)
	return &r
}

func renderLeaf(leaf *x509.Certificate) leafValues {
	return leafValues{
		serial: certinfo.SerialHex(leaf), issuer: certinfo.IssuerDN(leaf), subject: certinfo.DN(leaf),
		validity: certinfo.Validity(leaf), pem: certinfo.URLEncodedPEM(leaf.Raw),
	}
}

// setVerify adds the verified leaf's fields (SPEC A-HDR-1), rendered by renderLeaf.
func (h HeaderNames) setVerify(hdr http.Header, v *leafValues) {
	hdr.Set(h.SerialNumber, v.serial)
	hdr.Set(h.Issuer, v.issuer)
	hdr.Set(h.Subject, v.subject)
	hdr.Set(h.Validity, v.validity)
	hdr.Set(h.Leaf, v.pem)
}
