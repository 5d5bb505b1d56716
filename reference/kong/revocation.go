package kong

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"
)

// revStatus is the revocation status of a certificate as far as the gateway could tell.
type revStatus int

const (
	revGood revStatus = iota
	revRevoked
	revUnknown
)

func (s revStatus) String() string { return [...]string{"good", "revoked", "unknown"}[s] }

// maxCRLSize bounds a fetched CRL.
const maxCRLSize = 32 << 20

// maxCached bounds the status cache; past it, expired entries go, then everything.
const maxCached = 10000

// maxOCSPResponse bounds an OCSP response; a real one is a few kilobytes.
const maxOCSPResponse = 1 << 20

// revocationChecker asks a certificate's OCSP responder (Authority Information Access) and
// fetches its CRL (distribution point), SPEC K-MTLS-8. Results are cached per certificate for
// cert_cache_ttl; concurrent requests for one certificate share one check; a check is bounded by
// http_timeout as a whole and holds no lock, so it blocks no other request.
type revocationChecker struct {
	// verify trusts lua_ssl_trusted_certificate; insecure is for ssl_verify=false.
	verify, insecure *http.Client
	log              *slog.Logger
	now              func() time.Time

	mu       sync.Mutex
	cache    map[string]cachedStatus
	inflight map[string]*fetch
}

type cachedStatus struct {
	status  revStatus
	expires time.Time
}

type fetch struct {
	done   chan struct{}
	status revStatus
}

func newRevocationChecker(verify, insecure *http.Client, log *slog.Logger) *revocationChecker {
	return &revocationChecker{
		verify: verify, insecure: insecure, log: log, now: time.Now,
		cache: map[string]cachedStatus{}, inflight: map[string]*fetch{},
	}
}

// check is the mtls-auth revocation step: SKIP never asks; IGNORE_CA_ERROR lets unknown pass;
// STRICT treats unknown as revoked.
func (c *revocationChecker) check(m *mtlsAuthConfig, chain []*x509.Certificate) bool {
	if m.revocationMode == "SKIP" || len(chain) < 2 {
		return false
	}
	st := c.status(chain[0], chain[1], m.sslVerify, m.httpTimeout, m.certCacheTTL)
	switch st {
	case revRevoked:
		return true
	case revUnknown:
		return m.revocationMode == "STRICT"
	}
	return false
}

// status returns the leaf's status, from the cache or one shared check.
func (c *revocationChecker) status(leaf, issuer *x509.Certificate, sslVerify bool, timeout, ttl time.Duration) revStatus {
	key := certinfo.Fingerprint(leaf.Raw) + "|" + strconv.FormatBool(sslVerify)
	c.mu.Lock()
	if e, ok := c.cache[key]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return e.status
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.status
		case <-time.After(timeout):
			return revUnknown
		}
	}
	f := &fetch{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()

	client := c.verify
	if !sslVerify {
		client = c.insecure
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	f.status = c.fetch(ctx, client, leaf, issuer)
	cancel()

	c.mu.Lock()
	delete(c.inflight, key)
	if len(c.cache) >= maxCached {
		now := c.now()
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= maxCached {
			clear(c.cache)
		}
	}
	if ttl > 0 {
		c.cache[key] = cachedStatus{status: f.status, expires: c.now().Add(ttl)}
	}
	c.mu.Unlock()
	close(f.done)
	return f.status
}

// fetch decides the leaf's status. The OCSP responder is asked first; its good or revoked is
// final. When it cannot say (no answer, an answer that does not verify, is stale, is for another
// certificate, or says unknown), the CRL decides, if the certificate names one. A certificate that
// names neither, or whose status nobody could tell, is unknown.
func (c *revocationChecker) fetch(ctx context.Context, client *http.Client, leaf, issuer *x509.Certificate) revStatus {
	ocspURL, crlURL := httpURL(leaf.OCSPServer), httpURL(leaf.CRLDistributionPoints)
	if ocspURL == "" && crlURL == "" {
		c.log.Debug("revocation status unknown: the certificate names no OCSP responder and no CRL", "subject", certinfo.DN(leaf))
		return revUnknown
	}
	if ocspURL != "" {
		st, err := c.askOCSP(ctx, client, ocspURL, leaf, issuer)
		if err == nil {
			return st
		}
		c.log.Warn("revocation status unknown from OCSP", "subject", certinfo.DN(leaf), "ocsp", ocspURL, "error", err)
	}
	if crlURL == "" {
		return revUnknown
	}
	return c.checkCRL(ctx, client, crlURL, leaf, issuer)
}

// httpURL is the first http(s) URL of urls, or "".
func httpURL(urls []string) string {
	for _, u := range urls {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return u
		}
	}
	return ""
}

// askOCSP posts an OCSP request for leaf; any answer it cannot trust is an error.
func (c *revocationChecker) askOCSP(ctx context.Context, client *http.Client, url string, leaf, issuer *x509.Certificate) (revStatus, error) {
	body, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return revUnknown, fmt.Errorf("build OCSP request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return revUnknown, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := client.Do(req)
	if err != nil {
		return revUnknown, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return revUnknown, fmt.Errorf("OCSP request: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxOCSPResponse))
	if err != nil {
		return revUnknown, fmt.Errorf("read OCSP response: %w", err)
	}
	// ParseResponseForCert checks the signature (by the issuer, or a responder it certified)
	// and that the answer is about this serial.
	r, err := ocsp.ParseResponseForCert(b, leaf, issuer)
	if err != nil {
		return revUnknown, fmt.Errorf("OCSP response: %w", err)
	}
	now := c.now()
	if !r.NextUpdate.IsZero() && now.After(r.NextUpdate) {
		return revUnknown, fmt.Errorf("OCSP response is stale: nextUpdate %s is past", r.NextUpdate.Format(time.RFC3339))
	}
	if r.ThisUpdate.After(now.Add(5 * time.Minute)) {
		return revUnknown, fmt.Errorf("OCSP response is not yet valid: thisUpdate %s", r.ThisUpdate.Format(time.RFC3339))
	}
	switch r.Status {
	case ocsp.Good:
		return revGood, nil
	case ocsp.Revoked:
		return revRevoked, nil
	}
	return revUnknown, errors.New(`OCSP responder says "unknown"`)
}

// checkCRL downloads the leaf's CRL and decides; anything it cannot trust is unknown.
func (c *revocationChecker) checkCRL(ctx context.Context, client *http.Client, url string, leaf, issuer *x509.Certificate) revStatus {
	crl, err := c.download(ctx, client, url)
	if err != nil {
		c.log.Warn("revocation status unknown", "subject", certinfo.DN(leaf), "crl", url, "error", err)
		return revUnknown
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		c.log.Warn("revocation status unknown: CRL not signed by the issuer", "crl", url, "error", err)
		return revUnknown
	}
	if !crl.NextUpdate.IsZero() && c.now().After(crl.NextUpdate) {
		c.log.Warn("revocation status unknown: CRL expired", "crl", url, "next_update", crl.NextUpdate)
		return revUnknown
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return revRevoked
		}
	}
	return revGood
}

func (c *revocationChecker) download(ctx context.Context, client *http.Client, url string) (*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CRL fetch: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLSize))
	if err != nil {
		return nil, fmt.Errorf("CRL fetch: %w", err)
	}
	if block, _ := pem.Decode(b); block != nil {
		b = block.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parse CRL: %w", err)
	}
	return crl, nil
}
