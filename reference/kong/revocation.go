package kong

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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

// revocationChecker fetches CRLs from certificates' distribution points (SPEC K-MTLS-8). Results
// are cached per certificate for cert_cache_ttl; concurrent requests for one certificate share
// one fetch; a fetch is bounded by http_timeout and holds no lock, so it blocks no other request.
type revocationChecker struct {
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

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

func newRevocationChecker(client *http.Client, log *slog.Logger) *revocationChecker {
	return &revocationChecker{
		client: client, log: log, now: time.Now,
		cache: map[string]cachedStatus{}, inflight: map[string]*fetch{},
	}
}

// check is the mtls-auth revocation step: SKIP never asks; IGNORE_CA_ERROR lets unknown pass;
// STRICT treats unknown as revoked.
func (c *revocationChecker) check(m *mtlsAuthConfig, chain []*x509.Certificate) bool {
	if m.revocationMode == "SKIP" || len(chain) < 2 {
		return false
	}
	st := c.status(chain[0], chain[1], m.httpTimeout, m.certCacheTTL)
	switch st {
	case revRevoked:
		return true
	case revUnknown:
		return m.revocationMode == "STRICT"
	}
	return false
}

// status returns the leaf's status, from the cache or one shared fetch.
func (c *revocationChecker) status(leaf, issuer *x509.Certificate, timeout, ttl time.Duration) revStatus {
	key := certinfo.Fingerprint(leaf.Raw)
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

	f.status = c.fetch(leaf, issuer, timeout)

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

// fetch downloads the leaf's CRL and decides; anything it cannot trust is unknown.
func (c *revocationChecker) fetch(leaf, issuer *x509.Certificate, timeout time.Duration) revStatus {
	url := ""
	for _, u := range leaf.CRLDistributionPoints {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			url = u
			break
		}
	}
	if url == "" {
		return revUnknown
	}
	crl, err := c.download(url, timeout)
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

func (c *revocationChecker) download(url string, timeout time.Duration) (*x509.RevocationList, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
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
