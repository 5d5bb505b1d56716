package kong_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

// withSNI sets the server name the client asks for.
func withSNI(name string) func(*tls.Config) { return func(c *tls.Config) { c.ServerName = name } }

// tlsVersion pins the client to one TLS version.
func tlsVersion(v uint16) func(*tls.Config) {
	return func(c *tls.Config) { c.MinVersion, c.MaxVersion = v, v }
}

// handshake opens a TLS connection to the proxy and reports the negotiated state or the error.
func handshake(addr string, tweak ...func(*tls.Config)) (*tls.ConnectionState, error) {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the spec inspects what it is given
	for _, t := range tweak {
		t(conf)
	}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return &st, nil
}

func hostOf(u string) string { return u[len("https://"):] }

var _ = Describe("certificates presented to clients", func() {
	suite.It("K-SNI-1", "without ssl_cert the gateway presents a generated self-signed certificate for localhost", func(ctx SpecContext) {
		st, err := handshake(hostOf(sys.ProxyTLSURL))
		Expect(err).NotTo(HaveOccurred())
		leaf := st.PeerCertificates[0]
		Expect(leaf.Subject.CommonName).To(Equal("localhost"))
		Expect(leaf.Issuer.String()).To(Equal(leaf.Subject.String()), "self-issued")
		Expect(leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature)).To(Succeed(), "signed by its own key")
	})

	suite.It("K-SNI-1", "ssl_cert/ssl_cert_key (lists) are the default certificate; an RSA-only client gets the RSA one", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "ssl_cert = "+file("server.crt")+", "+file("sni-api-rsa.crt"), "ssl_cert_key = "+file("server.key")+", "+file("sni-api-rsa.key"))
		st, err := handshake(hostOf(s.ProxyTLSURL))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].Subject.CommonName).To(Equal("localhost"))
		Expect(st.PeerCertificates[0].Equal(pki.Get(fixtures.Server).Cert)).To(BeTrue())
		st, err = handshake(hostOf(s.ProxyTLSURL), tlsVersion(tls.VersionTLS12), func(c *tls.Config) {
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].PublicKeyAlgorithm).To(Equal(x509.RSA))
	})

	suite.It("K-SNI-2", "the certificate follows the SNI: exact > leading *. > trailing .* > the default", func(ctx SpecContext) {
		certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
		certEntity(ctx, sys, fixtures.SNIWildcard, "*.example.test", "api.example.*")
		certEntity(ctx, sys, fixtures.SNIOther, "other.*")
		addr := hostOf(sys.ProxyTLSURL)
		for sni, cn := range map[string]string{
			"api.example.test": "api.example.test",  // exact beats api.example.*
			"www.example.test": "*.example.test",    // leading wildcard
			"api.example.org":  "*.example.test",    // trailing wildcard api.example.*
			"other.net":        "other.example.org", // other.* replaces the last label only …
			"other.example.io": "localhost",         // … so it does not match two more labels
			"unknown.test":     "localhost",
		} {
			st, err := handshake(addr, withSNI(sni))
			Expect(err).NotTo(HaveOccurred(), sni)
			Expect(st.PeerCertificates[0].Subject.CommonName).To(Equal(cn), sni)
		}
		st, err := handshake(addr)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].Subject.CommonName).To(Equal("localhost"), "no SNI → default")
	})

	suite.It("K-SNI-2", "cert_alt: an RSA-only client gets the alternative certificate of the same SNI entity", func(ctx SpecContext) {
		ec, rsa := pki.Get(fixtures.SNIAPI), pki.Get(fixtures.SNIAPIRSA)
		must(sys.Admin.CreateCertificate(ctx, kongapi.Certificate{
			Cert: string(ec.CertPEM()), Key: string(must(ec.KeyPEM())),
			CertAlt: string(rsa.CertPEM()), KeyAlt: string(must(rsa.KeyPEM())), SNIs: []string{"api.example.test"},
		}))
		st, err := handshake(hostOf(sys.ProxyTLSURL), withSNI("api.example.test"), tlsVersion(tls.VersionTLS12), func(c *tls.Config) {
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].PublicKeyAlgorithm).To(Equal(x509.RSA))
		st, err = handshake(hostOf(sys.ProxyTLSURL), withSNI("api.example.test"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].PublicKeyAlgorithm).To(Equal(x509.ECDSA))
	})

	suite.It("K-SNI-2", "a PATCH of an SNI's certificate applies to the next handshake", func(ctx SpecContext) {
		c := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
		other := pki.Get(fixtures.SNIOther)
		patch(ctx, sys, "/certificates/"+c.ID, map[string]any{"cert": string(other.CertPEM()), "key": string(must(other.KeyPEM()))})
		st, err := handshake(hostOf(sys.ProxyTLSURL), withSNI("api.example.test"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.PeerCertificates[0].Subject.CommonName).To(Equal("other.example.org"))
	})

	suite.It("K-SNI-2", "a route with snis matches that SNI over https; over plain http its snis are ignored and Kong asks for HTTPS", func(ctx SpecContext) {
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: sys.EchoURL + "/anything"}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "by-sni", SNIs: []string{"api.example.test"}, Protocols: []string{"https"}, Service: &kongapi.Ref{ID: svc.ID}}))
		Expect(get(ctx, client("", withSNI("api.example.test")), sys.ProxyTLSURL+"/x").Status).To(Equal(http.StatusOK))
		r := get(ctx, client("", withSNI("other.example.test")), sys.ProxyTLSURL+"/x", "Accept", "application/json")
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "no Route matched with those values"))
		// 06-ssl_spec.lua: an https-only route reached over http answers 426.
		r = get(ctx, client(""), sys.ProxyURL+"/x", "Accept", "application/json")
		Expect(r.Status).To(Equal(http.StatusUpgradeRequired))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "Please use HTTPS protocol"))
		Expect(r.Header.Get("Upgrade")).To(Equal("TLS/1.2, HTTP/1.1"))
	})

	suite.It("K-SNI-2", "routes match on hosts: exact beats a leading wildcard, which matches any first label", func(ctx SpecContext) {
		wild := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "wild", URL: sys.EchoURL + "/wild"}))
		exact := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "exact", URL: sys.EchoURL + "/exact"}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "wild", Hosts: []string{"*.hosts.test"}, Service: &kongapi.Ref{ID: wild.ID}}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "exact", Hosts: []string{"a.hosts.test"}, Service: &kongapi.Ref{ID: exact.ID}}))
		for host, want := range map[string]string{"a.hosts.test": "/exact/p", "b.hosts.test": "/wild/p", "x.y.hosts.test": "/wild/p"} {
			r := do(ctx, client(""), http.MethodGet, sys.ProxyURL+"/p", http.Header{}, nil, withHost(host))
			Expect(r.Status).To(Equal(http.StatusOK), host)
			Expect(r.Echo.URL).To(HaveSuffix(want), host)
		}
		r := do(ctx, client(""), http.MethodGet, sys.ProxyURL+"/p", http.Header{"Accept": {"application/json"}}, nil, withHost("hosts.test"))
		Expect(r.Status).To(Equal(http.StatusNotFound), "the wildcard needs a first label")
	})
})

var _ = Describe("TLS protocols", func() {
	type versions map[uint16]bool
	check := func(addr string, want versions) {
		for v, ok := range want {
			_, err := handshake(addr, tlsVersion(v))
			if ok {
				Expect(err).NotTo(HaveOccurred(), tls.VersionName(v))
			} else {
				Expect(err).To(HaveOccurred(), tls.VersionName(v))
				Expect(err.Error()).To(ContainSubstring("protocol version"), tls.VersionName(v))
			}
		}
	}
	suite.It("K-TLS-1", "intermediate (default): TLS 1.2 and 1.3 only", func(ctx SpecContext) {
		check(hostOf(sys.ProxyTLSURL), versions{tls.VersionTLS13: true, tls.VersionTLS12: true, tls.VersionTLS11: false, tls.VersionTLS10: false})
	})
	suite.It("K-TLS-1", "modern: TLS 1.3 only", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "ssl_cipher_suite = modern")
		check(hostOf(s.ProxyTLSURL), versions{tls.VersionTLS13: true, tls.VersionTLS12: false})
	})
	suite.It("K-TLS-1", "old: TLS 1.0 to 1.3", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "ssl_cipher_suite = old")
		check(hostOf(s.ProxyTLSURL), versions{tls.VersionTLS13: true, tls.VersionTLS12: true, tls.VersionTLS10: true})
	})
	suite.It("K-TLS-1", "custom uses ssl_protocols (TLSv1.2 only here)", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "ssl_cipher_suite = custom", "ssl_protocols = TLSv1.2", "ssl_ciphers = ECDHE-ECDSA-AES256-GCM-SHA384")
		check(hostOf(s.ProxyTLSURL), versions{tls.VersionTLS12: true, tls.VersionTLS13: false})
		st, err := handshake(hostOf(s.ProxyTLSURL))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.CipherSuite).To(Equal(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384))
	})
	suite.It("K-TLS-1", "intermediate offers only ECDHE AEAD suites under TLS 1.2", func(ctx SpecContext) {
		_, err := handshake(hostOf(sys.ProxyTLSURL), tlsVersion(tls.VersionTLS12), func(c *tls.Config) {
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		})
		Expect(err).To(HaveOccurred(), "a CBC-only client")
	})
})
