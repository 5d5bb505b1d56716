// Package kong is mtlsgate's Kong-compatible reference gateway: Kong's listeners and kong.conf,
// an Admin API subset, the mtls-auth and acl plugins, and Kong's proxy behaviour, as SPEC §1
// describes them. It is the executable specification the Kong suites run against.
package kong

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/bufpool"
	"github.com/mtlsgate/mtlsgate/internal/certinfo"
	"github.com/mtlsgate/mtlsgate/internal/regularfile"
	"github.com/mtlsgate/mtlsgate/internal/serve"
	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// Options configures a Gateway.
type Options struct {
	// Config is the loaded kong.conf; nil means Kong's defaults.
	Config *kongconf.Config
	Log    *slog.Logger
	// AdminToken, when set, is required in every Admin API request's Kong-Admin-Token header.
	AdminToken string
	// AdminHosts are host names the Admin API answers to besides IP addresses, loopback names
	// and the names in admin_listen (K-ADM-5).
	AdminHosts []string
}

// Gateway is a running (or ready to run) reference gateway.
type Gateway struct {
	conf       *kongconf.Config
	log        *slog.Logger
	db         *admin.DB
	api        *admin.API
	rt         atomic.Pointer[runtime]
	proxy      *httputil.ReverseProxy
	buffers    *bufpool.Pool
	transports *transportPool
	revocation *revocationChecker
	// defaultCerts are ssl_cert/ssl_cert_key, or one generated self-signed certificate.
	defaultCerts []tls.Certificate
	adminCerts   []tls.Certificate
	tlsPolicy    tlsPolicy
	globals      globals
	// plugins are the plugins the Admin API accepts and the proxy runs, in their run order.
	plugins *pluginRegistry
	servers []listener
	// bodyTimeout is client_body_timeout: the longest wait between two reads of a request body.
	bodyTimeout time.Duration
	// clientTimeouts are each listener role's client_header_timeout, keepalive_timeout and
	// send_timeout.
	clientTimeouts map[string]clientTimeouts
}

// listener is one bound listener and what it serves.
type listener struct {
	role   string // proxy, admin, status
	ssl    bool
	server *serve.Server
}

// New builds a gateway from its configuration without binding anything.
func New(opts Options) (*Gateway, error) {
	conf := opts.Config
	if conf == nil {
		var err error
		if conf, err = kongconf.Load("", nil); err != nil {
			return nil, err
		}
	}
	g := &Gateway{conf: conf, log: opts.Log}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if g.tlsPolicy, err = policyFor(conf); err != nil {
		return nil, err
	}
	if g.defaultCerts, err = loadPairs("ssl_cert", conf.SSLCert, conf.SSLCertKey); err != nil {
		return nil, err
	}
	if g.adminCerts, err = loadPairs("admin_ssl_cert", conf.AdminSSLCert, conf.AdminSSLCertKey); err != nil {
		return nil, err
	}
	if len(g.defaultCerts) == 0 || len(g.adminCerts) == 0 {
		def, err := defaultCertificate()
		if err != nil {
			return nil, fmt.Errorf("generate default certificate: %w", err)
		}
		if len(g.defaultCerts) == 0 {
			g.defaultCerts = []tls.Certificate{def}
		}
		if len(g.adminCerts) == 0 {
			g.adminCerts = []tls.Certificate{def}
		}
	}
	if g.bodyTimeout, err = clientBodyTimeout(conf); err != nil {
		return nil, err
	}
	g.clientTimeouts = map[string]clientTimeouts{}
	for role := range serverBlockPrefixes {
		if g.clientTimeouts[role], err = clientTimeoutsFor(conf, role); err != nil {
			return nil, err
		}
	}
	if g.globals, err = loadGlobals(conf); err != nil {
		return nil, err
	}
	if g.revocation, err = newRevocation(conf, g.log); err != nil {
		return nil, err
	}
	g.transports = newTransportPool(func(s *service) *tls.Config { return s.tls.config() })
	if g.transports.maxHeader, err = proxyBufferSize(conf); err != nil {
		return nil, err
	}
	g.buffers = bufpool.New()
	g.proxy = g.newReverseProxy()
	if g.plugins, err = newPluginRegistry(Plugins()); err != nil {
		return nil, err
	}
	g.db, err = admin.New(admin.Options{Apply: g.apply, Plugins: PluginSchemas()})
	if err != nil {
		return nil, err
	}
	g.api = admin.NewAPI(g.db, admin.APIOptions{Info: g.info, Server: version.Server, Log: g.log, DBLess: conf.Database == "off",
		GUIURL: conf.Values["admin_gui_url"], Hosts: append(listenHosts(conf.AdminListen), opts.AdminHosts...), Token: opts.AdminToken})
	if conf.DeclarativeConfig != "" {
		if conf.Database != "off" {
			return nil, fmt.Errorf("declarative_config %s is only read when database = off", conf.DeclarativeConfig)
		}
		b, err := regularfile.Read(conf.DeclarativeConfig, regularfile.MaxConfig)
		if err != nil {
			return nil, fmt.Errorf("declarative_config: %w", err)
		}
		doc, err := admin.ParseDeclarative(b)
		if err != nil {
			return nil, fmt.Errorf("declarative_config %s: %w", conf.DeclarativeConfig, err)
		}
		if e := g.db.LoadDeclarative(doc); e != nil {
			return nil, fmt.Errorf("declarative_config %s: %s", conf.DeclarativeConfig, e.Message)
		}
	}
	return g, nil
}

// listenHosts are the host names (not addresses) listeners are bound to, which the Admin API
// accepts as a Host.
func listenHosts(ls []kongconf.Listener) []string {
	var out []string
	for _, l := range ls {
		if h, _, err := net.SplitHostPort(l.Address); err == nil && net.ParseIP(h) == nil {
			out = append(out, h)
		}
	}
	return out
}

// apply compiles a snapshot and makes it the one requests see.
func (g *Gateway) apply(snap *admin.Snapshot) error {
	rt, err := compile(snap, g.globals, g.plugins)
	if err != nil {
		return err
	}
	g.rt.Store(rt)
	keys := map[string]bool{}
	for _, p := range rt.router.pieces {
		if p.route.service != nil {
			keys[p.route.service.transportKey] = true
		}
	}
	g.transports.retain(keys)
	return nil
}

func (g *Gateway) info() map[string]any {
	return map[string]any{
		"version":  version.Version,
		"hostname": hostname(),
		"configuration": map[string]any{
			"database": g.conf.Database, "proxy_listen": g.conf.Values["proxy_listen"],
			"admin_listen": g.conf.Values["admin_listen"], "ssl_cipher_suite": g.conf.SSLCipherSuite,
		},
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// Start binds every configured listener. On error nothing stays bound.
func (g *Gateway) Start(ctx context.Context) error {
	proxyHandler := http.HandlerFunc(g.serveProxy)
	statusHandler := http.HandlerFunc(g.serveStatus)
	groups := []struct {
		role      string
		listeners []kongconf.Listener
		handler   http.Handler
	}{{"proxy", g.conf.ProxyListen, proxyHandler}, {"admin", g.conf.AdminListen, g.api}, {"status", g.conf.StatusListen, statusHandler}}
	for _, grp := range groups {
		for _, l := range grp.listeners {
			var tlsConf *tls.Config
			if l.SSL {
				tlsConf = g.listenerTLS(grp.role, l.HTTP2)
			}
			// HTTP/2 only where the listener has the http2 flag, over TLS (SPEC K-H2-1).
			var protos http.Protocols
			protos.SetHTTP1(true)
			protos.SetHTTP2(l.SSL && l.HTTP2)
			to := g.clientTimeouts[grp.role]
			srv, err := serve.Listen(ctx, l.Address, grp.handler, serve.Options{TLS: tlsConf, ErrorLog: g.log, Protocols: &protos,
				HeaderTimeout: to.header, IdleTimeout: to.keepalive, SendTimeout: to.send})
			if err != nil {
				_ = g.Close(context.Background())
				return fmt.Errorf("start %s listener %s: %w", grp.role, l.Address, err)
			}
			g.servers = append(g.servers, listener{role: grp.role, ssl: l.SSL, server: srv})
			g.log.Info("listening", "role", grp.role, "address", srv.Addr().String(), "ssl", l.SSL)
		}
	}
	return nil
}

// URL returns the base URL of the first listener with the given role ("proxy", "admin",
// "status") and TLS setting, or "".
func (g *Gateway) URL(role string, ssl bool) string {
	for _, l := range g.servers {
		if l.role == role && l.ssl == ssl {
			return l.server.URL()
		}
	}
	return ""
}

// Close stops every listener and drops pooled upstream connections.
func (g *Gateway) Close(ctx context.Context) error {
	var errs []error
	for _, l := range g.servers {
		errs = append(errs, l.server.Close(ctx))
	}
	g.servers = nil
	g.transports.closeAll()
	return errors.Join(errs...)
}

// serveStatus is Kong's status API subset: /status and /status/ready.
func (g *Gateway) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", contentTypeJSON)
	switch r.URL.Path {
	case "/status/ready":
		_, _ = w.Write([]byte(`{"message":"ready"}`))
	case "/status":
		_, _ = w.Write([]byte(`{"database":{"reachable":true},"server":{"connections_active":0}}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not found"}`))
	}
}

// listenerTLS is the TLS configuration of a listener; the proxy's is recomputed per handshake
// from the current runtime, so certificate and mtls-auth changes apply to the next connection.
func (g *Gateway) listenerTLS(role string, http2 bool) *tls.Config {
	protos := []string{"http/1.1"}
	if http2 {
		protos = []string{"h2", "http/1.1"}
	}
	if role != "proxy" {
		return &tls.Config{Certificates: g.adminCerts, NextProtos: protos, MinVersion: tls.VersionTLS12}
	}
	configs := &serverConfigs{}
	return &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			rt := g.rt.Load()
			pair := rt.certificateFor(hello.ServerName)
			return configs.get(rt, pair, func() *tls.Config {
				c := g.tlsPolicy.config()
				c.Certificates = g.defaultCerts
				if pair != nil {
					c.Certificates = pair.list()
				}
				c.NextProtos = protos
				if rt.requestClientCert {
					c.ClientAuth = tls.RequestClientCert
					c.ClientCAs = rt.caNames
				}
				return c
			}), nil
		},
	}
}

// serverConfigs keeps a proxy listener's handshake configurations, one per certificate of the
// current runtime: a handshake reuses one instead of building its own (which its connection
// would then hold for its whole life). A new runtime starts over.
type serverConfigs struct {
	mu     sync.Mutex
	rt     *runtime
	byPair map[*certPair]*tls.Config // the nil key is the default certificate
}

// get returns the configuration of pair under rt, made by build on first use.
func (s *serverConfigs) get(rt *runtime, pair *certPair, build func() *tls.Config) *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt != rt {
		s.rt, s.byPair = rt, map[*certPair]*tls.Config{}
	}
	c, ok := s.byPair[pair]
	if !ok {
		c = build()
		s.byPair[pair] = c
	}
	return c
}

// newRevocation builds the OCSP and CRL client; with ssl_verify (the default) its HTTPS trust is
// lua_ssl_trusted_certificate, as for Kong's Lua sockets ("system" is the system pool).
func newRevocation(conf *kongconf.Config, log *slog.Logger) (*revocationChecker, error) {
	var roots *x509.CertPool
	for _, t := range conf.LuaSSLTrustedCertificate {
		if roots == nil {
			roots = x509.NewCertPool()
			if t == "system" {
				if sys, err := x509.SystemCertPool(); err == nil {
					roots = sys
				}
			}
		}
		if t == "system" {
			continue
		}
		pem, err := kongconf.ReadPEM(t)
		if err != nil || !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("lua_ssl_trusted_certificate: failed loading certificate from %s", t)
		}
	}
	verify := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 4}
	insecure := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 4} //nolint:gosec // ssl_verify=false asks for exactly this
	return newRevocationChecker(&http.Client{Transport: verify}, &http.Client{Transport: insecure}, log), nil
}

// loadGlobals reads the kong.conf settings every upstream connection starts from.
func loadGlobals(conf *kongconf.Config) (globals, error) {
	g := globals{verify: conf.ProxySSLVerify, depth: conf.ProxySSLVerifyDepth}
	if conf.ClientSSL {
		pairs, err := loadPairs("client_ssl_cert", []string{conf.ClientSSLCert}, []string{conf.ClientSSLCertKey})
		if err != nil {
			return g, err
		}
		g.clientCert = &pairs[0]
	}
	if conf.ProxySSLTrustedCertificate != "" {
		pem, err := kongconf.ReadPEM(conf.ProxySSLTrustedCertificate)
		if err != nil {
			return g, fmt.Errorf("proxy_ssl_trusted_certificate: failed loading certificate from %s", conf.ProxySSLTrustedCertificate)
		}
		g.roots = x509.NewCertPool()
		if !g.roots.AppendCertsFromPEM(pem) {
			return g, fmt.Errorf("proxy_ssl_trusted_certificate: no certificate in %s", conf.ProxySSLTrustedCertificate)
		}
		g.rootsKey = certinfo.Fingerprint(pem)
	}
	return g, nil
}

// loadPairs loads ssl_cert/ssl_cert_key style lists (paths, PEM or base64 PEM).
func loadPairs(name string, certs, keys []string) ([]tls.Certificate, error) {
	var out []tls.Certificate
	for i := range certs {
		if i >= len(keys) {
			break
		}
		cp, err := kongconf.ReadPEM(certs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: failed loading certificate from %s", name, certs[i])
		}
		kp, err := kongconf.ReadPEM(keys[i])
		if err != nil {
			return nil, fmt.Errorf("%s_key: failed loading key from %s", name, keys[i])
		}
		pair, err := tls.X509KeyPair(cp, kp)
		if err != nil {
			return nil, fmt.Errorf("%s: %s does not match %s_key %s: %w", name, certs[i], name, keys[i], err)
		}
		out = append(out, pair)
	}
	return out, nil
}

// DefaultCertificate makes Kong's default certificate, served when ssl_cert is not set: a fresh
// self-signed ECDSA P-256 certificate for CN=localhost (and 127.0.0.1), as PEM (the key in PKCS
// #8). Every target that stands in for Kong generates it here.
func DefaultCertificate() (certPEM, keyPEM []byte, err error) {
	const cn = "localhost"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate the default certificate's key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, fmt.Errorf("draw the default certificate's serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"mtlsgate"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		DNSNames: []string{cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign the default certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the default certificate's key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// defaultCertificate is DefaultCertificate as the gateway's listeners load it.
func defaultCertificate() (tls.Certificate, error) {
	certPEM, keyPEM, err := DefaultCertificate()
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
