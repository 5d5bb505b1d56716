package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CRLMode is how the CRL responder answers, so specs can show what a gateway does when
// revocation data is unavailable, late or corrupt.
type CRLMode string

// The responder's behaviours.
const (
	// CRLServe answers with the CRL last set for the path (good or revoking, as the CRL says).
	CRLServe CRLMode = "serve"
	// CRLUnreachable drops the connection without an answer.
	CRLUnreachable CRLMode = "unreachable"
	// CRLSlow waits Delay before serving the CRL.
	CRLSlow CRLMode = "slow"
	// CRLGarbage answers 200 with bytes that are not a CRL.
	CRLGarbage CRLMode = "garbage"
)

// ControlPrefix is the path under which the responder takes its instructions.
const ControlPrefix = "/_mtlsgate/"

// CRLResponder serves CRLs at /<name>.crl (the distribution points fixtures write) and counts
// fetches. It is safe for concurrent use.
type CRLResponder struct {
	faults faults[CRLMode]

	mu   sync.Mutex
	crls map[string][]byte
}

// NewCRLResponder returns a responder that serves nothing until SetCRL.
func NewCRLResponder() *CRLResponder {
	return &CRLResponder{
		faults: newFaults("CRL", CRLServe, CRLUnreachable, CRLSlow, CRLGarbage),
		crls:   map[string][]byte{},
	}
}

// SetCRL makes /<name>.crl answer with crl (PEM or DER, served as given).
func (c *CRLResponder) SetCRL(name string, crl []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crls[name] = bytes.Clone(crl)
}

// SetMode switches the behaviour; delay applies to CRLSlow.
func (c *CRLResponder) SetMode(mode CRLMode, delay time.Duration) error {
	return c.faults.setMode(mode, delay)
}

// Hits is how many times /<name>.crl was requested.
func (c *CRLResponder) Hits(name string) int { return c.faults.hitsOf(name) }

func (c *CRLResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPrefix) {
		c.control(w, r)
		return
	}
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".crl")
	mode, delay := c.faults.take(name, ok)
	c.mu.Lock()
	crl, found := c.crls[name]
	c.mu.Unlock()
	switch mode {
	case CRLUnreachable:
		hangUp(w)
		return
	case CRLGarbage:
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = io.WriteString(w, "this is not a certificate revocation list\n")
		return
	case CRLSlow:
		if !stall(r.Context(), delay) {
			return
		}
	}
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(crl)
}

// control handles PUT /_mtlsgate/crl/<name> (body: the CRL), PUT /_mtlsgate/mode?mode=…&delay=…
// and GET /_mtlsgate/hits/<name>.
func (c *CRLResponder) control(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(rest, "crl/"):
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		if err != nil {
			http.Error(w, "read CRL: "+err.Error(), http.StatusBadRequest)
			return
		}
		c.SetCRL(strings.TrimPrefix(rest, "crl/"), b)
		w.WriteHeader(http.StatusNoContent)
	case c.faults.control(w, r, rest): // mode and hits
	default:
		http.Error(w, "unknown control request", http.StatusNotFound)
	}
}

// stall waits delay, as a slow server does; false means the client gave up first.
func stall(ctx context.Context, delay time.Duration) bool {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// CRLControl drives a CRL responder over HTTP, wherever it runs (in-process or in a container).
type CRLControl struct{ c controlClient }

// NewCRLControl returns a client for the responder at baseURL.
func NewCRLControl(baseURL string) *CRLControl {
	return &CRLControl{c: newControlClient(baseURL)}
}

// SetCRL uploads the CRL served at /<name>.crl.
func (c *CRLControl) SetCRL(ctx context.Context, name string, crl []byte) error {
	return c.c.put(ctx, ControlPrefix+"crl/"+name, crl)
}

// SetMode switches the responder's behaviour.
func (c *CRLControl) SetMode(ctx context.Context, mode CRLMode, delay time.Duration) error {
	return c.c.put(ctx, ControlPrefix+"mode?mode="+string(mode)+"&delay="+delay.String(), nil)
}

// Hits returns how many times /<name>.crl was fetched.
func (c *CRLControl) Hits(ctx context.Context, name string) (int, error) {
	return c.c.count(ctx, ControlPrefix+"hits/"+name)
}

// controlClient speaks the responders' control protocol: PUT answered 204, GET a number.
type controlClient struct {
	base string
	http *http.Client
}

func newControlClient(baseURL string) controlClient {
	return controlClient{base: strings.TrimSuffix(baseURL, "/"), http: &http.Client{Timeout: 10 * time.Second}}
}

func (c controlClient) count(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("responder %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (c controlClient) put(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("responder %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return errors.New("responder " + path + ": " + resp.Status + ": " + strings.TrimSpace(string(b)))
	}
	return nil
}

// CRLsFromDir loads the CRLs of a directory `mtlsgate pki` wrote, each served under its issuer's
// name (/ca.crl for crl.pem); the deliberately broken CRLs of the catalogue are left out.
func CRLsFromDir(dir string) (*CRLResponder, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read PKI manifest: %w", err)
	}
	var m struct {
		Identities []struct {
			Kind   string `json:"kind"`
			Issuer string `json:"issuer"`
			Defect string `json:"defect"`
			Files  struct {
				CRL string `json:"crl"`
			} `json:"files"`
		} `json:"identities"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse PKI manifest: %w", err)
	}
	r := NewCRLResponder()
	n := 0
	for _, e := range m.Identities {
		if e.Kind != "crl" || e.Defect != "" || e.Files.CRL == "" {
			continue
		}
		crl, err := os.ReadFile(filepath.Join(dir, e.Files.CRL))
		if err != nil {
			return nil, fmt.Errorf("read CRL: %w", err)
		}
		r.SetCRL(e.Issuer, crl)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no CRL in %s/manifest.json", dir)
	}
	return r, nil
}
