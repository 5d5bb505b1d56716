// Package scenario holds the load simulator's ready-made populations and the embedded reference
// it attacks by default: which fixture identity each class uses, what each profile promises it,
// and a Kong-profile system configured through its Admin API with a CRL responder the run can
// update mid-attack. The CLI and the load suite share it, so both attack the same thing.
package scenario

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/load"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// The class names of the default populations.
const (
	Valid      = "valid"
	Missing    = "missing"
	Untrusted  = "untrusted"
	Expired    = "expired"
	SelfSigned = "self-signed"
	Revoked    = "revoked"
	TLS12      = "tls12"
	// RevokedMidRun is a valid client revoked while the attack runs (L-3).
	RevokedMidRun = "revoked-midrun"
)

// Kong's mtls-auth messages (SPEC K-MTLS-1, K-MTLS-2).
const (
	MsgNoCertificate = "No required TLS certificate was sent"
	MsgFailedVerify  = "TLS certificate failed verification"
)

// MidRunIdentity is the fixture name of the certificate revoked mid-run, and MidRunCN its
// subject CN (a consumer of that name exists until the revocation).
const (
	MidRunIdentity = "client-midrun"
	MidRunCN       = "midrun-client"
	// RevokedCN is client-revoked's CN. A consumer of that name exists, so only the revocation
	// check stands between it and the API (as in real life: revoked users had accounts).
	RevokedCN = "revoked-client"
)

// Profiles the populations exist for.
const (
	ProfileKong = "kong"
	ProfileALB  = "alb"
)

// classDef is one class of a default population.
type classDef struct {
	name     string
	identity string
	weight   int
	maxTLS   uint16
	kong     load.Outcome
	alb      load.Outcome
}

func definitions() []classDef {
	ok := load.Outcome{Status: 200}
	fail := load.Outcome{Status: 401, BodyContains: MsgFailedVerify}
	hs := load.Outcome{HandshakeFailure: true}
	return []classDef{
		{Valid, fixtures.Client, 60, 0, ok, ok},
		{Missing, "", 8, 0, load.Outcome{Status: 401, BodyContains: MsgNoCertificate}, hs},
		{Untrusted, fixtures.ClientUnknownCA, 8, 0, fail, hs},
		{Expired, fixtures.ClientExpired, 8, 0, fail, hs},
		{SelfSigned, fixtures.ClientSelfSigned, 6, 0, fail, hs},
		{Revoked, fixtures.ClientRevoked, 6, 0, fail, hs},
		// Kong's default (intermediate) policy takes TLS 1.2; an ALB on a TLS 1.3-only policy does not.
		{TLS12, fixtures.Client, 4, tls.VersionTLS12, ok, hs},
		{RevokedMidRun, MidRunIdentity, 0, 0, ok, ok},
	}
}

// ClassNames lists the default population's classes in order, for flags and messages.
func ClassNames() []string {
	var out []string
	for _, d := range definitions() {
		out = append(out, d.name)
	}
	return out
}

// Identities resolves a fixture name to the certificate its holder presents.
type Identities func(name string) (*tls.Certificate, error)

// FromPKI resolves identities from a generated PKI.
func FromPKI(p *fixtures.PKI) Identities {
	return func(name string) (*tls.Certificate, error) {
		id, ok := p.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("identity %q is not in the PKI", name)
		}
		c := id.TLSCertificate()
		return &c, nil
	}
}

// FromDir resolves identities from a directory `mtlsgate pki --out DIR` wrote (<name>.crt and
// <name>.key, or <name>-chain.pem when it exists).
func FromDir(dir string) Identities {
	return func(name string) (*tls.Certificate, error) {
		crt := filepath.Join(dir, name+".crt")
		if chain := filepath.Join(dir, name+"-chain.pem"); fileExists(chain) {
			crt = chain
		}
		c, err := tls.LoadX509KeyPair(crt, filepath.Join(dir, name+".key"))
		if err != nil {
			return nil, fmt.Errorf("load identity %q from %s: %w (generate it with mtlsgate pki --out %s, or give the class weight 0)", name, dir, err, dir)
		}
		return &c, nil
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// ParseWeights reads "valid=70,missing=10,…" into a map; names must be classes of the
// population.
func ParseWeights(s string) (map[string]int, error) {
	out := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	known := ClassNames()
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("population %q: write class=weight (e.g. valid=70,missing=10)", part)
		}
		if !contains(known, name) {
			return nil, fmt.Errorf("population: unknown class %q (classes: %s)", name, strings.Join(known, ", "))
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("population class %q: weight %q must be a whole number ≥ 0", name, w)
		}
		out[name] = n
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Population returns the profile's default classes with weights overridden by weights (a class
// absent from weights keeps its default; weight 0 leaves it out). Identities are loaded only
// for the classes that run.
func Population(profile string, weights map[string]int, ids Identities) ([]load.Class, error) {
	if profile != ProfileKong && profile != ProfileALB {
		return nil, fmt.Errorf("profile %q: use kong or alb", profile)
	}
	var out []load.Class
	for _, d := range definitions() {
		w := d.weight
		if v, ok := weights[d.name]; ok {
			w = v
		}
		if w == 0 {
			continue
		}
		c := load.Class{Name: d.name, Weight: w, Identity: d.identity, MaxVersion: d.maxTLS, Expect: d.kong}
		if profile == ProfileALB {
			c.Expect = d.alb
		}
		if d.identity != "" {
			cert, err := ids(d.identity)
			if err != nil {
				return nil, fmt.Errorf("population class %q: %w", d.name, err)
			}
			c.Certificate = cert
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("population: every class has weight 0")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Weight > out[j].Weight })
	return out, nil
}

// KongOptions tunes the embedded Kong-profile system.
type KongOptions struct {
	// CertCacheTTL is mtls-auth's cert_cache_ttl: how long a revocation status is cached, so
	// it bounds how late a revocation is enforced (default 500ms).
	CertCacheTTL time.Duration
	// HTTPTimeout is mtls-auth's http_timeout for CRL fetches (default 2s).
	HTTPTimeout time.Duration
}

// Kong is a Kong-profile system configured for the load population: the CA trusted by a global
// mtls-auth, a route /mtls to the echo, consumers for the valid, revoked and mid-run clients, and a CRL
// responder (at the clients' distribution point) revoking client-revoked.
type Kong struct {
	Sys  *harness.KongSystem
	PKI  *fixtures.PKI
	URL  string
	Opts KongOptions
}

// ConfigureKong prepares a started Kong-profile system for the load population. It reissues
// client, client-revoked and client-midrun with a CRL distribution point on the system's
// responder (same names and subjects as the catalogue's), so mtls-auth checks revocation.
func ConfigureKong(ctx context.Context, sys *harness.KongSystem, pki *fixtures.PKI, opts KongOptions) (*Kong, error) {
	if opts.CertCacheTTL <= 0 {
		opts.CertCacheTTL = 500 * time.Millisecond
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = 2 * time.Second
	}
	k := &Kong{Sys: sys, PKI: pki, URL: sys.ProxyTLSURL + "/mtls", Opts: opts}
	if err := k.configure(ctx); err != nil {
		return nil, fmt.Errorf("configure kong for load: %w", err)
	}
	return k, nil
}

func (k *Kong) configure(ctx context.Context) error {
	crlURL := k.Sys.CRLBaseURL + "/" + fixtures.RootCA + ".crl"
	for _, r := range []fixtures.Request{
		{Name: fixtures.Client, Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: fixtures.ClientCommonName,
			Emails: []string{fixtures.ClientCommonName}, CRLURL: crlURL, Purpose: "valid client certificate (load: CRL on the responder)"},
		{Name: fixtures.ClientRevoked, Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: RevokedCN, Defect: fixtures.DefectRevoked,
			CRLURL: crlURL, Purpose: "client certificate revoked by the responder's CRL"},
		{Name: MidRunIdentity, Kind: fixtures.KindClient, Issuer: fixtures.RootCA, CN: MidRunCN, CRLURL: crlURL,
			Purpose: "valid client certificate that a load run revokes mid-attack"},
	} {
		if _, err := k.PKI.Issue(r); err != nil {
			return err
		}
	}
	if err := k.serveCRL(ctx, fixtures.ClientRevoked); err != nil {
		return err
	}
	a := k.Sys.Admin
	if err := a.Reset(ctx); err != nil {
		return fmt.Errorf("reset gateway: %w", err)
	}
	_, err := framework.Walkthrough{
		CAPEM: k.PKI.Get(fixtures.RootCA).CertPEM(),
		Plugin: map[string]any{
			"cert_cache_ttl": k.Opts.CertCacheTTL.Milliseconds(),
			"http_timeout":   k.Opts.HTTPTimeout.Milliseconds(),
		},
		Name: "load-mtls", ServiceURL: k.Sys.EchoURL + "/anything", Paths: []string{"/mtls"},
		Consumers: []string{fixtures.ClientCommonName, MidRunCN, RevokedCN},
	}.Apply(ctx, a)
	return err
}

// serveCRL puts a fresh CRL of the root CA revoking names on the system's responder.
func (k *Kong) serveCRL(ctx context.Context, names ...string) error {
	crl, err := k.PKI.NewCRL(fixtures.CRLRequest{Name: "crl-load", Issuer: fixtures.RootCA, Revoked: names})
	if err != nil {
		return fmt.Errorf("make CRL: %w", err)
	}
	if err := k.Sys.CRL.SetCRL(ctx, fixtures.RootCA, crl.PEM); err != nil {
		return fmt.Errorf("serve CRL: %w", err)
	}
	return nil
}

// Population is the Kong population with identities from this system's PKI; a weight for
// RevokedMidRun adds the client RevokeMidRun revokes.
func (k *Kong) Population(weights map[string]int) ([]load.Class, error) {
	return Population(ProfileKong, weights, FromPKI(k.PKI))
}

// RevokeMidRun is the L-3 event: at `at`, the responder's CRL is replaced by one that also
// revokes client-midrun; from then on the class must get 401. The grace is cert_cache_ttl plus
// the CRL fetch timeout, the longest a correct gateway may keep answering from its cache.
func (k *Kong) RevokeMidRun(at time.Duration) load.Event {
	return MidRunRevocation(ProfileKong, at, k.Opts.CertCacheTTL+k.Opts.HTTPTimeout, func(ctx context.Context) error {
		return k.serveCRL(ctx, fixtures.ClientRevoked, MidRunIdentity)
	})
}

// MidRunRevocation is the L-3 event of a profile: at `at`, apply revokes client-midrun; from
// then on (after grace, the longest a correct gateway may answer from its cache) the class must
// get what a revoked certificate gets: Kong's 401, an ALB's failed handshake.
func MidRunRevocation(profile string, at, grace time.Duration, apply func(context.Context) error) load.Event {
	expect := load.Outcome{Status: 401, BodyContains: MsgFailedVerify}
	if profile == ProfileALB {
		expect = load.Outcome{HandshakeFailure: true}
	}
	return load.Event{Name: "revoke " + MidRunIdentity, At: at, Class: RevokedMidRun, Expect: expect, Grace: grace, Apply: apply}
}

// StartKong starts a Kong-profile system on the target and configures it for the load
// population; Stop the returned system when done.
func StartKong(ctx context.Context, kt harness.KongTarget, pki *fixtures.PKI, opts KongOptions) (*Kong, error) {
	sys, err := kt.StartKong(ctx, harness.KongSetup{PKI: pki})
	if err != nil {
		return nil, fmt.Errorf("start kong for load: %w", err)
	}
	k, err := ConfigureKong(ctx, sys, pki, opts)
	if err != nil {
		_ = sys.Stop(context.Background())
		return nil, err
	}
	return k, nil
}
