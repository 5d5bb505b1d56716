package upstream

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPMode is how the OCSP responder answers, so specs can show what a gateway does with every
// answer a real responder (or an attacker between it and the gateway) can give.
type OCSPMode string

// The OCSP responder's behaviours.
const (
	// OCSPServe answers good, or revoked for the serials set with SetRevoked.
	OCSPServe OCSPMode = "serve"
	// OCSPUnknown answers the status "unknown" for every certificate.
	OCSPUnknown OCSPMode = "unknown"
	// OCSPUnreachable drops the connection without an answer.
	OCSPUnreachable OCSPMode = "unreachable"
	// OCSPSlow waits Delay before answering as OCSPServe does.
	OCSPSlow OCSPMode = "slow"
	// OCSPGarbage answers 200 with bytes that are not an OCSP response.
	OCSPGarbage OCSPMode = "garbage"
	// OCSPMissigned answers good, signed by a key that is not the issuer's.
	OCSPMissigned OCSPMode = "missigned"
	// OCSPStale answers good with a nextUpdate in the past.
	OCSPStale OCSPMode = "stale"
	// OCSPOtherSerial answers good, but for a serial other than the one asked about.
	OCSPOtherSerial OCSPMode = "other-serial"
)

// OCSPPrefix is the path under which the responder answers: /ocsp/<issuer>, the URL fixtures
// write into certificates' Authority Information Access.
const OCSPPrefix = "/ocsp/"

// ocspControl is the responder's control path under ControlPrefix.
const ocspControl = ControlPrefix + "ocsp/"

// maxOCSPRequest bounds a request body; a real request is a few hundred bytes.
const maxOCSPRequest = 64 << 10

// OCSPResponder answers OCSP requests (RFC 6960, POST and GET) for the issuers it was given,
// signing as the issuer itself, and counts them. It is safe for concurrent use.
type OCSPResponder struct {
	rogue  crypto.Signer // signs OCSPMissigned answers
	faults faults[OCSPMode]

	mu      sync.Mutex
	issuers map[string]*ocspIssuer
}

type ocspIssuer struct {
	cert    *x509.Certificate
	key     crypto.Signer
	revoked map[string]bool // serial, base 16
}

// NewOCSPResponder returns a responder that knows no issuer until SetIssuer.
func NewOCSPResponder() (*OCSPResponder, error) {
	rogue, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: generate the mis-signing key: %w", err)
	}
	return &OCSPResponder{
		rogue:   rogue,
		faults:  newFaults("OCSP", OCSPServe, OCSPUnknown, OCSPUnreachable, OCSPSlow, OCSPGarbage, OCSPMissigned, OCSPStale, OCSPOtherSerial),
		issuers: map[string]*ocspIssuer{},
	}, nil
}

// SetIssuer makes /ocsp/<name> answer for certificates cert issued, signed with key; it keeps
// the issuer's revoked serials when the certificate is the same.
func (o *OCSPResponder) SetIssuer(name string, cert *x509.Certificate, key crypto.Signer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	revoked := map[string]bool{}
	if old := o.issuers[name]; old != nil && old.cert.Equal(cert) {
		revoked = old.revoked
	}
	o.issuers[name] = &ocspIssuer{cert: cert, key: key, revoked: revoked}
}

// SetRevoked replaces the serials /ocsp/<name> answers revoked for.
func (o *OCSPResponder) SetRevoked(name string, serials ...*big.Int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	is := o.issuers[name]
	if is == nil {
		return fmt.Errorf("OCSP responder: no issuer %q: set it first", name)
	}
	is.revoked = map[string]bool{}
	for _, s := range serials {
		is.revoked[s.Text(16)] = true
	}
	return nil
}

// SetMode switches the behaviour; delay applies to OCSPSlow.
func (o *OCSPResponder) SetMode(mode OCSPMode, delay time.Duration) error {
	return o.faults.setMode(mode, delay)
}

// Hits is how many OCSP requests /ocsp/<name> received.
func (o *OCSPResponder) Hits(name string) int { return o.faults.hitsOf(name) }

// Handles reports whether path belongs to the responder (its answers or its control).
func (o *OCSPResponder) Handles(path string) bool {
	return strings.HasPrefix(path, OCSPPrefix) || strings.HasPrefix(path, ocspControl)
}

func (o *OCSPResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ocspControl) {
		o.control(w, r)
		return
	}
	name, der, err := ocspRequestOf(r)
	mode, delay := o.faults.take(name, true)
	o.mu.Lock()
	is := o.issuers[name]
	var revoked bool
	o.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch mode {
	case OCSPUnreachable:
		hangUp(w)
		return
	case OCSPGarbage:
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = io.WriteString(w, "this is not an OCSP response\n")
		return
	case OCSPSlow:
		if !stall(r.Context(), delay) {
			return
		}
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil || is == nil {
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	o.mu.Lock()
	revoked = is.revoked[req.SerialNumber.Text(16)]
	o.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Minute)
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
	signer := is.key
	switch {
	case mode == OCSPUnknown:
		tmpl.Status = ocsp.Unknown
	case mode == OCSPMissigned:
		signer = o.rogue
	case mode == OCSPStale:
		tmpl.ThisUpdate, tmpl.NextUpdate = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	case mode == OCSPOtherSerial:
		tmpl.SerialNumber = new(big.Int).Add(req.SerialNumber, big.NewInt(1))
	case revoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, now.Add(-time.Hour), ocsp.KeyCompromise
	}
	resp, err := ocsp.CreateResponse(is.cert, is.cert, tmpl, signer)
	if err != nil {
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(ocsp.InternalErrorErrorResponse)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(resp)
}

// ocspRequestOf reads the issuer name and the DER request of POST /ocsp/<name> (body) or
// GET /ocsp/<name>/<base64 request> (RFC 6960 appendix A.1).
func ocspRequestOf(r *http.Request) (name string, der []byte, err error) {
	rest := strings.TrimPrefix(r.URL.Path, OCSPPrefix)
	switch r.Method {
	case http.MethodPost:
		der, err = io.ReadAll(io.LimitReader(r.Body, maxOCSPRequest))
		return rest, der, err
	case http.MethodGet:
		name, enc, _ := strings.Cut(rest, "/")
		if unescaped, uerr := url.PathUnescape(enc); uerr == nil {
			enc = unescaped
		}
		der, err = base64.StdEncoding.DecodeString(enc)
		return name, der, err
	}
	return rest, nil, fmt.Errorf("OCSP: method %s not allowed (use POST or GET)", r.Method)
}

// hangUp drops the connection without an answer, as an unreachable server looks to a client.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// control handles PUT /_mtlsgate/ocsp/issuer/<name> (body: the issuer's certificate and PKCS #8
// key, PEM), PUT /_mtlsgate/ocsp/revoked/<name> (body: serials in base 16, one a line),
// PUT /_mtlsgate/ocsp/mode?mode=…&delay=… and GET /_mtlsgate/ocsp/hits/<name>.
func (o *OCSPResponder) control(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, ocspControl)
	body := func() ([]byte, bool) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return nil, false
		}
		return b, true
	}
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(rest, "issuer/"):
		b, ok := body()
		if !ok {
			return
		}
		cert, key, err := parseIssuer(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o.SetIssuer(strings.TrimPrefix(rest, "issuer/"), cert, key)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && strings.HasPrefix(rest, "revoked/"):
		b, ok := body()
		if !ok {
			return
		}
		var serials []*big.Int
		for _, line := range strings.Fields(string(b)) {
			s, ok := new(big.Int).SetString(line, 16)
			if !ok {
				http.Error(w, fmt.Sprintf("revoked: %q is not a serial in base 16", line), http.StatusBadRequest)
				return
			}
			serials = append(serials, s)
		}
		if err := o.SetRevoked(strings.TrimPrefix(rest, "revoked/"), serials...); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case o.faults.control(w, r, rest): // mode and hits
	default:
		http.Error(w, "unknown OCSP control request", http.StatusNotFound)
	}
}

// parseIssuer reads a PEM certificate and its PEM private key, in either order.
func parseIssuer(b []byte) (*x509.Certificate, crypto.Signer, error) {
	var certPEM, keyPEM []byte
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(block)...)
		} else {
			keyPEM = append(keyPEM, pem.EncodeToMemory(block)...)
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("OCSP issuer: need a PEM certificate and its PEM private key: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("OCSP issuer: the private key cannot sign")
	}
	return pair.Leaf, signer, nil
}

// OCSPControl drives an OCSP responder over HTTP, wherever it runs (in-process or in a container).
type OCSPControl struct{ c controlClient }

// NewOCSPControl returns a client for the responder at baseURL.
func NewOCSPControl(baseURL string) *OCSPControl {
	return &OCSPControl{c: newControlClient(baseURL)}
}

// SetIssuer makes /ocsp/<name> answer for the certificates certPEM issued, signing with keyPEM.
func (o *OCSPControl) SetIssuer(ctx context.Context, name string, certPEM, keyPEM []byte) error {
	return o.c.put(ctx, ocspControl+"issuer/"+name, append(bytes.Clone(certPEM), keyPEM...))
}

// SetRevoked replaces the serials /ocsp/<name> answers revoked for.
func (o *OCSPControl) SetRevoked(ctx context.Context, name string, serials ...*big.Int) error {
	var b strings.Builder
	for _, s := range serials {
		b.WriteString(s.Text(16) + "\n")
	}
	return o.c.put(ctx, ocspControl+"revoked/"+name, []byte(b.String()))
}

// SetMode switches the responder's behaviour.
func (o *OCSPControl) SetMode(ctx context.Context, mode OCSPMode, delay time.Duration) error {
	return o.c.put(ctx, ocspControl+"mode?mode="+string(mode)+"&delay="+delay.String(), nil)
}

// Hits returns how many OCSP requests /ocsp/<name> received.
func (o *OCSPControl) Hits(ctx context.Context, name string) (int, error) {
	return o.c.count(ctx, ocspControl+"hits/"+name)
}

// OCSPFromDir answers for every CA of a directory `mtlsgate pki` wrote that has a CRL, at
// /ocsp/<issuer>, revoking what that CRL revokes; the deliberately broken CRLs are left out.
func OCSPFromDir(dir string) (*OCSPResponder, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read PKI manifest: %w", err)
	}
	var m struct {
		Identities []struct {
			Name   string `json:"name"`
			Kind   string `json:"kind"`
			Issuer string `json:"issuer"`
			Defect string `json:"defect"`
			Files  struct {
				Cert, Key, CRL string
			} `json:"files"`
		} `json:"identities"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse PKI manifest: %w", err)
	}
	o, err := NewOCSPResponder()
	if err != nil {
		return nil, err
	}
	files := map[string][2]string{}
	for _, e := range m.Identities {
		if e.Kind == "ca" {
			files[e.Name] = [2]string{e.Files.Cert, e.Files.Key}
		}
	}
	n := 0
	for _, e := range m.Identities {
		if e.Kind != "crl" || e.Defect != "" || e.Files.CRL == "" {
			continue
		}
		f, ok := files[e.Issuer]
		if !ok {
			continue
		}
		issuerPEM, err := readFiles(dir, f[0], f[1])
		if err != nil {
			return nil, fmt.Errorf("OCSP responder: %w", err)
		}
		crlPEM, err := readFiles(dir, e.Files.CRL)
		if err != nil {
			return nil, fmt.Errorf("OCSP responder: %w", err)
		}
		cert, key, err := parseIssuer(issuerPEM)
		if err != nil {
			return nil, fmt.Errorf("OCSP responder: issuer %s: %w", e.Issuer, err)
		}
		if block, _ := pem.Decode(crlPEM); block != nil {
			crlPEM = block.Bytes
		}
		crl, err := x509.ParseRevocationList(crlPEM)
		if err != nil {
			return nil, fmt.Errorf("OCSP responder: CRL %s: %w", e.Files.CRL, err)
		}
		o.SetIssuer(e.Issuer, cert, key)
		var serials []*big.Int
		for _, r := range crl.RevokedCertificateEntries {
			serials = append(serials, r.SerialNumber)
		}
		if err := o.SetRevoked(e.Issuer, serials...); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no CA with a CRL in %s/manifest.json", dir)
	}
	return o, nil
}

// readFiles concatenates files of dir.
func readFiles(dir string, names ...string) ([]byte, error) {
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}
