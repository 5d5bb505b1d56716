package kong

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"

	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// MTLSAuthName is the mtls-auth plugin's name (Kong Enterprise's Mutual TLS Authentication).
const MTLSAuthName = "mtls-auth"

// mtlsAuthPlugin is the mtls-auth plugin: its schema is Kong's documented configuration
// (docs.konghq.com/hub/kong-inc/mtls-auth/configuration), its priority Kong's static one (1600,
// docs.konghq.com/konnect/reference/plugins), and it runs in the access phase.
func mtlsAuthPlugin() Plugin {
	return Plugin{
		Schema: admin.PluginSchema{
			Name: MTLSAuthName,
			Config: []admin.Field{
				admin.StringArrayField("ca_certificates").Required().ElemUUID(),
				admin.StringArrayField("consumer_by").Default([]any{ConsumerByUsername, ConsumerByCustomID}).ElemOneOf(ConsumerByUsername, ConsumerByCustomID),
				admin.BooleanField("skip_consumer_lookup").Default(false),
				admin.StringField("authenticated_group_by").Default("CN").OneOf("CN", "DN"),
				admin.StringField("anonymous"),
				admin.StringField("default_consumer"),
				admin.StringField("revocation_check_mode").Default("IGNORE_CA_ERROR").OneOf("SKIP", "IGNORE_CA_ERROR", "STRICT"),
				admin.BooleanField("allow_partial_chain").Default(false),
				admin.BooleanField("send_ca_dn").Default(false),
				// Kong Enterprise does not publish these bounds; mtlsgate's (SPEC K-ADM-6): TTLs up to
				// Kong's DAO_MAX_TTL, http_timeout as a service's nonzero timeout, so no value can
				// switch revocation off or overflow a duration.
				admin.NumberField("cache_ttl").Default(float64(60)).Between(0, admin.MaxTTL),
				admin.NumberField("cert_cache_ttl").Default(float64(60000)).Between(0, admin.MaxTTL),
				admin.NumberField("http_timeout").Default(float64(30000)).Between(1, admin.MaxTimeout),
				admin.StringField("http_proxy_host"),
				admin.IntegerField("http_proxy_port").Between(0, 65535),
				admin.StringField("https_proxy_host"),
				admin.IntegerField("https_proxy_port").Between(0, 65535),
				admin.BooleanField("ssl_verify").Default(true), // Kong 3.14: "now enabled by default" (mtls-auth changelog)
			},
			Protocols:  []string{"grpc", "grpcs", "http", "https"},
			NoConsumer: true,
			CARefs:     []string{"ca_certificates"},
			Check: func(c map[string]any) []string {
				var errs []string
				for _, pair := range [][2]string{{"http_proxy_host", "http_proxy_port"}, {"https_proxy_host", "https_proxy_port"}} {
					if (c[pair[0]] == nil) != (c[pair[1]] == nil) {
						errs = append(errs, fmt.Sprintf("all or none of these fields must be set: '%s', '%s'", "config."+pair[0], "config."+pair[1]))
					}
				}
				return errs
			},
			Credentials: &admin.Credentials{Table: "mtls_auth_credentials", ConsumerPath: MTLSAuthName, ListPath: "mtls-auths"},
		},
		Phase:    PhaseAccess,
		Priority: 1600,
		compile: func(rt *runtime, cfg map[string]any) (pluginHandler, error) {
			mc, err := compileMTLSAuth(cfg, rt.caCerts)
			if err != nil {
				return nil, err
			}
			// Any enabled mtls-auth makes the handshake ask for a certificate (the plugin, not the
			// handshake, verifies it), naming its CAs when send_ca_dn is set.
			rt.requestClientCert = true
			if mc.sendCADN {
				if rt.caNames == nil {
					rt.caNames = x509.NewCertPool()
				}
				for _, c := range mc.cas {
					rt.caNames.AddCert(c.cert)
				}
			}
			return mc, nil
		},
	}
}

// handle authenticates the request's client certificate and establishes its consumer, groups
// and the headers the upstream is told.
func (m *mtlsAuthConfig) handle(g *Gateway, w http.ResponseWriter, r *http.Request, st *reqState) bool {
	res := m.authenticate(st.rt, peerCertificates(r), g.revocation)
	if res.status != 0 {
		g.kongExit(w, st, res.status, res.message)
		return false
	}
	for k, v := range res.headers {
		st.setHeaders[k] = v
	}
	st.consumer, st.anonymous = res.consumer, res.anonymous
	st.authenticated, st.groups = !res.anonymous, res.groups
	if res.consumer != nil {
		setConsumerHeaders(st.setHeaders, res.consumer, res.anonymous)
	}
	return true
}

// Messages of the mtls-auth plugin (SPEC K-MTLS-1, -2, -3, -7).
const (
	msgNoCertificate   = MsgNoCertificate
	msgFailedVerify    = MsgFailedVerify
	msgMissingCN       = MsgMissingCN
	msgUnexpectedError = MsgUnexpectedError
)

type caRef struct {
	id   string
	cert *x509.Certificate
}

// mtlsAuthConfig is a compiled mtls-auth plugin configuration.
type mtlsAuthConfig struct {
	cas                []caRef
	roots              *x509.CertPool
	intermediates      []*x509.Certificate
	consumerBy         []string
	skipConsumerLookup bool
	groupBy            string
	anonymous          string
	defaultConsumer    string
	revocationMode     string
	allowPartialChain  bool
	sendCADN           bool
	sslVerify          bool
	certCacheTTL       time.Duration
	httpTimeout        time.Duration
	// verified caches chain verification per presented chain for cache_ttl, as Kong's plugin
	// caches its results: a keep-alive client is not verified again on every request. A config
	// change compiles a new mtlsAuthConfig, so the cache never outlives the CAs it trusted.
	verified verifyCache
}

// verifyCacheSize bounds the verification cache; a full cache starts over.
const verifyCacheSize = 4096

// verifyCache remembers the outcome of verifying a presented certificate chain.
type verifyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[sha256.Size]byte]verifyEntry
}

type verifyEntry struct {
	chain []*x509.Certificate // nil: verification failed
	until time.Time
}

// verify returns the verified chain of peers (nil if it does not verify), from the cache while
// the entry is younger than the TTL and no certificate of the chain has expired.
func (v *verifyCache) verify(peers []*x509.Certificate, now time.Time, run func() []*x509.Certificate) []*x509.Certificate {
	if v.ttl <= 0 {
		return run()
	}
	h := sha256.New()
	for _, c := range peers {
		h.Write(c.Raw)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	v.mu.Lock()
	e, ok := v.m[key]
	v.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.chain
	}
	chain := run()
	e = verifyEntry{chain: chain, until: now.Add(v.ttl)}
	for _, c := range chain {
		if c.NotAfter.Before(e.until) {
			e.until = c.NotAfter
		}
	}
	v.mu.Lock()
	if v.m == nil || len(v.m) >= verifyCacheSize {
		v.m = make(map[[sha256.Size]byte]verifyEntry)
	}
	v.m[key] = e
	v.mu.Unlock()
	return chain
}

func compileMTLSAuth(cfg map[string]any, cas map[string]*x509.Certificate) (*mtlsAuthConfig, error) {
	m := &mtlsAuthConfig{
		consumerBy: admin.Strings(cfg["consumer_by"]), skipConsumerLookup: cfg["skip_consumer_lookup"] == true,
		groupBy: admin.String(cfg["authenticated_group_by"]), anonymous: admin.String(cfg["anonymous"]),
		defaultConsumer: admin.String(cfg["default_consumer"]), revocationMode: admin.String(cfg["revocation_check_mode"]),
		allowPartialChain: cfg["allow_partial_chain"] == true, sendCADN: cfg["send_ca_dn"] == true,
		sslVerify:    cfg["ssl_verify"] != false,
		certCacheTTL: time.Duration(admin.Int(cfg["cert_cache_ttl"])) * time.Millisecond,
		httpTimeout:  time.Duration(admin.Int(cfg["http_timeout"])) * time.Millisecond,
		roots:        x509.NewCertPool(),
	}
	m.verified.ttl = time.Duration(admin.Int(cfg["cache_ttl"])) * time.Second
	if cfg["consumer_by"] == nil {
		m.consumerBy = []string{ConsumerByUsername, ConsumerByCustomID}
	}
	for _, id := range admin.Strings(cfg["ca_certificates"]) {
		c, ok := cas[id]
		if !ok {
			return nil, fmt.Errorf("CA Certificate '%s' does not exist", id)
		}
		m.cas = append(m.cas, caRef{id: id, cert: c})
		// Without allow_partial_chain, only a self-signed CA is a trust anchor (OpenSSL's rule);
		// an intermediate in the list only helps build the chain to one.
		if m.allowPartialChain || isSelfSigned(c) {
			m.roots.AddCert(c)
		} else {
			m.intermediates = append(m.intermediates, c)
		}
	}
	return m, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// authResult is what mtls-auth decided for one request.
type authResult struct {
	// status and message, when status != 0, end the request.
	status  int
	message string
	// consumer is the matched (or anonymous) consumer.
	consumer  *consumer
	anonymous bool
	// headers to set upstream (X-Client-Cert-DN/SAN with skip_consumer_lookup).
	headers http.Header
	// groups are the authenticated groups (CN or DN) under skip_consumer_lookup.
	groups []string
}

// authenticate runs mtls-auth (SPEC K-MTLS-1 … K-MTLS-5, K-MTLS-9) on the peer certificates of
// the connection; peers is nil on plain HTTP.
func (m *mtlsAuthConfig) authenticate(rt *runtime, peers []*x509.Certificate, revoked *revocationChecker) authResult {
	fail := func(msg string) authResult {
		if m.anonymous == "" {
			return authResult{status: http.StatusUnauthorized, message: msg}
		}
		c := rt.lookupConsumer(m.anonymous)
		if c == nil {
			return authResult{status: http.StatusInternalServerError, message: msgUnexpectedError}
		}
		return authResult{consumer: c, anonymous: true}
	}
	if len(peers) == 0 {
		return fail(msgNoCertificate)
	}
	leaf := peers[0]
	chain := m.verified.verify(peers, time.Now(), func() []*x509.Certificate {
		inter := x509.NewCertPool()
		for _, c := range peers[1:] {
			inter.AddCert(c)
		}
		for _, c := range m.intermediates {
			inter.AddCert(c)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots: m.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil || len(chains) == 0 {
			return nil
		}
		return chains[0]
	})
	if chain == nil {
		return fail(msgFailedVerify)
	}
	if revoked != nil && revoked.check(m, chain) {
		return fail(msgFailedVerify)
	}
	anchor := chain[len(chain)-1]
	caID := ""
	for _, ca := range m.cas {
		if ca.cert.Equal(anchor) {
			caID = ca.id
			break
		}
	}
	names := append(certinfo.SANs(leaf), []string{}...)
	if cn := leaf.Subject.CommonName; cn != "" {
		names = append(names, cn)
	}

	if m.skipConsumerLookup {
		res := authResult{headers: http.Header{}}
		switch m.groupBy {
		case "DN":
			res.groups = []string{certinfo.DN(leaf)}
		default:
			if leaf.Subject.CommonName == "" {
				return fail(msgMissingCN)
			}
			res.groups = []string{leaf.Subject.CommonName}
		}
		res.headers.Set(HeaderClientCertDN, certinfo.DN(leaf))
		if len(names) > 0 {
			res.headers.Set(HeaderClientCertSAN, strings.Join(names, ","))
		}
		return res
	}
	if id, ok := rt.consumerIndex.Lookup(names, caID, m.consumerBy); ok {
		return authResult{consumer: rt.consumers[id]}
	}
	if m.defaultConsumer != "" {
		if c := rt.lookupConsumer(m.defaultConsumer); c != nil {
			return authResult{consumer: c}
		}
		return authResult{status: http.StatusInternalServerError, message: msgUnexpectedError}
	}
	return fail(msgFailedVerify)
}

// lookupConsumer finds a consumer by id or username, as anonymous and default_consumer allow.
func (rt *runtime) lookupConsumer(key string) *consumer {
	id, _ := rt.consumerIndex.Resolve(key)
	return rt.consumers[id]
}
