package alb

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Code is an ALB tls_verify_status failure code (SPEC A-LOG-1).
type Code string

// The codes ALB logs as Failed:<code>.
const (
	CodeMaxChainDepthExceeded Code = "ClientCertMaxChainDepthExceeded"
	CodeCrlHit                Code = "ClientCertCrlHit"
	CodeUntrusted             Code = "ClientCertUntrusted"
	CodeNotYetValid           Code = "ClientCertNotYetValid"
	CodeExpired               Code = "ClientCertExpired"
	CodeTypeUnsupported       Code = "ClientCertTypeUnsupported"
	CodeInvalid               Code = "ClientCertInvalid"
	CodePurposeInvalid        Code = "ClientCertPurposeInvalid"
	// CodeRejected is also what the emulator logs when verify mode gets no certificate at all
	// (an mtlsgate rule: ALB's documentation names no code for it).
	CodeRejected Code = "ClientCertRejected"
	// CodeUnmapped is ALB's code for a connection that failed for another reason (a protocol
	// version or cipher the policy does not allow, a client that hung up).
	CodeUnmapped Code = "UnmappedConnectionError"
)

// MaxChainDepth is the longest client chain verify mode accepts: the leaf and the intermediates
// below the trust anchor.
const MaxChainDepth = 4

// VerifyError is a verify-mode rejection; the handshake fails and the log says Failed:<Code>.
type VerifyError struct {
	Code Code
	Err  error
}

// Error implements error.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("client certificate rejected (%s): %v", e.Code, e.Err)
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

func reject(code Code, format string, args ...any) error {
	return &VerifyError{Code: code, Err: fmt.Errorf(format, args...)}
}

// verifier checks client chains against one trust store, as ALB's verify mode does.
type verifier struct {
	store        *trustStore
	ignoreExpiry bool
	now          func() time.Time
	// passed remembers chains that verified, so the next connection presenting one is not
	// verified again; see verifyCached. A reload builds a new verifier, so the cache never
	// outlives the trust store (and CRLs) it was filled against.
	passed passedChains
}

// passedChains maps a presented chain to the span of time over which its verification cannot
// change.
type passedChains = digestCache[timeSpan]

// timeSpan is [from, until], both inclusive; a zero until is unbounded.
type timeSpan struct{ from, until time.Time }

func (t timeSpan) contains(at time.Time) bool {
	return !at.Before(t.from) && (t.until.IsZero() || !at.After(t.until))
}

// stableSpan is the span around at within which no certificate of certs enters or leaves its
// validity window. Verification depends on the time only through those windows (the presented
// chain's and the trust store's CAs', which are every certificate a chain can be built from),
// and CRLs are matched by serial alone, so within the span its outcome is the one at at.
func stableSpan(at time.Time, certs ...[]*x509.Certificate) timeSpan {
	var span timeSpan
	lower := func(t time.Time) {
		if t.After(span.from) {
			span.from = t
		}
	}
	upper := func(t time.Time) {
		if span.until.IsZero() || t.Before(span.until) {
			span.until = t
		}
	}
	for _, list := range certs {
		for _, c := range list {
			if at.Before(c.NotBefore) {
				upper(c.NotBefore.Add(-time.Nanosecond))
			} else {
				lower(c.NotBefore)
			}
			if at.After(c.NotAfter) {
				lower(c.NotAfter.Add(time.Nanosecond))
			} else {
				upper(c.NotAfter)
			}
		}
	}
	return span
}

// verifyCached is verify for a handshake: a chain that verified, presented again while no
// certificate involved has crossed a validity boundary, passes without the signature checks
// (ALB verifies every connection; only the work is saved, never a different outcome). Only
// successes are remembered, so every failure is judged afresh with its code.
func (v *verifier) verifyCached(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return v.verify(chain)
	}
	h := sha256.New()
	for _, c := range chain {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	now := v.now()
	if span, ok := v.passed.get(key); ok && span.contains(now) {
		return nil
	}
	if err := v.verifyAt(chain, now); err != nil {
		return err
	}
	v.passed.put(key, stableSpan(now, chain, v.store.cas))
	return nil
}

// verify checks the chain a client presented (leaf first) and returns nil or a *VerifyError.
// Order: certificate type, trust, validity window, purpose, revocation, depth.
func (v *verifier) verify(chain []*x509.Certificate) error {
	return v.verifyAt(chain, v.now())
}

// verifyAt is verify at the instant now.
func (v *verifier) verifyAt(chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return reject(CodeRejected, "no client certificate was presented")
	}
	leaf := chain[0]
	if err := supportedType(leaf); err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	verifyAt := func(at time.Time) ([][]*x509.Certificate, error) {
		return leaf.Verify(x509.VerifyOptions{Roots: v.store.pool, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	}
	timeErr := func(err error) bool {
		var inv x509.CertificateInvalidError
		return errors.As(err, &inv) && inv.Reason == x509.Expired
	}
	chains, err := verifyAt(now)
	if err != nil && timeErr(err) {
		inWindow := !now.Before(leaf.NotBefore) && !now.After(leaf.NotAfter)
		if inWindow {
			return reject(CodeExpired, "a CA certificate of the chain is outside its validity period: %v", err)
		}
		// The leaf is outside its window: judge trust without the leaf's dates (the CAs still
		// at now), so a trusted certificate is reported as expired or not yet valid, and
		// IgnoreClientCertificateExpiry can let it through.
		var trustErr error
		chains, trustErr = v.chainsIgnoringLeafTime(chain, inter, now)
		switch {
		case trustErr != nil:
			return reject(CodeUntrusted, "%v", trustErr)
		case now.Before(leaf.NotBefore):
			return reject(CodeNotYetValid, "certificate %q is not valid before %s", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))
		case !v.ignoreExpiry:
			return reject(CodeExpired, "certificate %q expired at %s", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		err = nil
	}
	if err != nil {
		return reject(CodeUntrusted, "%v", err)
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return reject(CodePurposeInvalid, "certificate %q lacks the clientAuth extended key usage", leaf.Subject)
	}
	best := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	for i := 0; i+1 < len(best); i++ {
		if v.store.isRevoked(best[i], best[i+1]) {
			return reject(CodeCrlHit, "certificate %q (serial %s) is revoked by its issuer's CRL", best[i].Subject, best[i].SerialNumber.Text(16))
		}
	}
	if depth := len(best) - 1; depth > MaxChainDepth {
		return reject(CodeMaxChainDepthExceeded, "the chain holds %d certificates below the trust anchor; at most %d are allowed", depth, MaxChainDepth)
	}
	return nil
}

// supportedType applies SPEC A-CERT-1: X.509v3; RSA 2048–8192 or ECDSA P-256/P-384/P-521;
// SHA-256/384/512 signatures with RSA, ECDSA or RSASSA-PSS.
func supportedType(c *x509.Certificate) error {
	if c.Version != 3 {
		return reject(CodeTypeUnsupported, "certificate %q is X.509 version %d; version 3 is required", c.Subject, c.Version)
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < 2048 || bits > 8192 {
			return reject(CodeTypeUnsupported, "certificate %q has an RSA-%d key; RSA keys must be 2048 to 8192 bits", c.Subject, bits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return reject(CodeTypeUnsupported, "certificate %q uses curve %s; use P-256, P-384 or P-521", c.Subject, k.Curve.Params().Name)
		}
	default:
		return reject(CodeTypeUnsupported, "certificate %q has a %s key; use RSA or ECDSA", c.Subject, c.PublicKeyAlgorithm)
	}
	switch c.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return nil
	}
	return reject(CodeTypeUnsupported, "certificate %q is signed with %s; use SHA-256, SHA-384 or SHA-512 with RSA, ECDSA or RSASSA-PSS", c.Subject, c.SignatureAlgorithm)
}

// codeOf extracts the ALB code from a failed handshake's error.
func codeOf(err error) Code {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Code
	}
	// crypto/tls rejects these before VerifyConnection runs: a certificate that does not parse,
	// or a CertificateVerify its key did not sign.
	if msg := err.Error(); strings.Contains(msg, "failed to parse client certificate") || strings.Contains(msg, "invalid signature by the client certificate") {
		return CodeInvalid
	}
	return CodeUnmapped
}

// chainsIgnoringLeafTime builds the leaf's chains to the trust store without checking the leaf's
// own validity dates: the leaf's signature is checked against each possible issuer, and the
// issuer's chain is verified at now.
func (v *verifier) chainsIgnoringLeafTime(presented []*x509.Certificate, inter *x509.CertPool, now time.Time) ([][]*x509.Certificate, error) {
	leaf := presented[0]
	candidates := append(slices.Clone(presented[1:]), v.store.cas...)
	for _, iss := range candidates {
		if !bytes.Equal(iss.RawSubject, leaf.RawIssuer) || leaf.CheckSignatureFrom(iss) != nil {
			continue
		}
		if slices.ContainsFunc(v.store.cas, func(c *x509.Certificate) bool { return c.Equal(iss) }) {
			return [][]*x509.Certificate{{leaf, iss}}, nil
		}
		chains, err := iss.Verify(x509.VerifyOptions{Roots: v.store.pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			continue
		}
		for i := range chains {
			chains[i] = append([]*x509.Certificate{leaf}, chains[i]...)
		}
		return chains, nil
	}
	return nil, fmt.Errorf("certificate %q: no chain to a CA of the trust store", leaf.Subject)
}
