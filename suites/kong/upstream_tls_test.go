package kong_test

import (
	"context"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

// CNs of the catalogue's gateway-side client certificates.
const (
	globalCN   = "gateway-global"
	serviceCN  = "gateway-service"
	upstreamCN = "gateway-upstream"
)

const (
	noUpstreamCert = "No required SSL certificate was sent"
	badUpstream    = "An invalid response was received from the upstream server"
)

// json502 asks for Kong's JSON error body, as curl's Accept: */* does.
var json502 = []string{"Accept", "*/*"}

var _ = Describe("gateway → upstream mTLS (Kong's 18-upstream_tls_spec scenarios)", func() {
	suite.It("K-UP-3", "no client certificate: the upstream's own 400 passes through", func(ctx SpecContext) {
		serviceTo(ctx, sys, "mtls", sys.MTLSEchoURL+"/anything", "/mtls", nil)
		r := get(ctx, client(""), sys.ProxyURL+"/mtls")
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(string(r.Body)).To(ContainSubstring("400 " + noUpstreamCert))
		Expect(r.Header.Get("Via")).To(ContainSubstring(sys.Product), "it is the upstream's answer, proxied")
	})

	suite.It("K-UP-4", "service client_certificate → 200; PATCH the certificate → the next request presents the new one; null → 400 again", func(ctx SpecContext) {
		svc := serviceTo(ctx, sys, "mtls", sys.MTLSEchoURL+"/anything", "/mtls", nil)
		cert := certEntity(ctx, sys, fixtures.ServiceClient)
		patch(ctx, sys, "/services/"+svc, map[string]any{"client_certificate": map[string]any{"id": cert.ID}})
		r := get(ctx, client(""), sys.ProxyURL+"/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(upstreamSaw(r)).To(Equal(serviceCN))

		other := pki.Get(fixtures.UpstreamClient)
		patch(ctx, sys, "/certificates/"+cert.ID, map[string]any{"cert": string(other.ChainPEM()), "key": string(must(other.KeyPEM()))})
		Expect(upstreamSaw(get(ctx, client(""), sys.ProxyURL+"/mtls"))).To(Equal(upstreamCN), "no pooled connection kept the old identity")

		patch(ctx, sys, "/services/"+svc, map[string]any{"client_certificate": nil})
		r = get(ctx, client(""), sys.ProxyURL+"/mtls")
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(string(r.Body)).To(ContainSubstring(noUpstreamCert))
	})

	suite.It("K-UP-4", "the same through an upstream entity: client_certificate → 200, null → 400", func(ctx SpecContext) {
		host := strings.TrimPrefix(sys.MTLSEchoURL, "https://")
		var up map[string]any
		Expect(sys.Admin.Do(ctx, http.MethodPost, "/upstreams", map[string]any{"name": "backend-mtls"}, &up)).To(Succeed())
		Expect(sys.Admin.Do(ctx, http.MethodPost, "/upstreams/backend-mtls/targets", map[string]any{"target": host}, nil)).To(Succeed())
		serviceTo(ctx, sys, "via-upstream", "https://backend-mtls/anything", "/mtls-upstream", nil)
		r := get(ctx, client(""), sys.ProxyURL+"/mtls-upstream")
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(string(r.Body)).To(ContainSubstring(noUpstreamCert))

		cert := certEntity(ctx, sys, fixtures.UpstreamClient)
		patch(ctx, sys, "/upstreams/backend-mtls", map[string]any{"client_certificate": map[string]any{"id": cert.ID}})
		r = get(ctx, client(""), sys.ProxyURL+"/mtls-upstream")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(upstreamSaw(r)).To(Equal(upstreamCN))

		patch(ctx, sys, "/upstreams/backend-mtls", map[string]any{"client_certificate": nil})
		Expect(get(ctx, client(""), sys.ProxyURL+"/mtls-upstream").Status).To(Equal(http.StatusBadRequest))
	})

	suite.It("K-UP-2", "the service's certificate beats a bad upstream certificate", func(ctx SpecContext) {
		host := strings.TrimPrefix(sys.MTLSEchoURL, "https://")
		bad := certEntity(ctx, sys, fixtures.ClientUnknownCA)
		Expect(sys.Admin.Do(ctx, http.MethodPost, "/upstreams", map[string]any{"name": "backend-mtls", "client_certificate": map[string]any{"id": bad.ID}}, nil)).To(Succeed())
		Expect(sys.Admin.Do(ctx, http.MethodPost, "/upstreams/backend-mtls/targets", map[string]any{"target": host}, nil)).To(Succeed())
		good := certEntity(ctx, sys, fixtures.ServiceClient)
		serviceTo(ctx, sys, "via-upstream", "https://backend-mtls/anything", "/mtls-upstream", map[string]any{"client_certificate": map[string]any{"id": good.ID}})
		r := get(ctx, client(""), sys.ProxyURL+"/mtls-upstream")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(upstreamSaw(r)).To(Equal(serviceCN))
	})

	suite.It("K-UP-5", "tls_verify defaults to off: an upstream certificate nobody trusts → 200", func(ctx SpecContext) {
		svc := serviceTo(ctx, sys, "tls", sys.EchoTLSURL+"/anything", "/tls", nil)
		Expect(must(sys.Admin.List(ctx, "/services"))[0]).To(HaveKeyWithValue("tls_verify", BeNil()))
		Expect(get(ctx, client(""), sys.ProxyURL+"/tls").Status).To(Equal(http.StatusOK))
		_ = svc
	})

	suite.It("K-UP-5", "tls_verify=true without a CA → 502; with the right CA → 200; CA patched to another → 502 and back → 200", func(ctx SpecContext) {
		svc := serviceTo(ctx, sys, "tls", sys.EchoTLSURL+"/anything", "/tls", nil)
		patch(ctx, sys, "/services/"+svc, map[string]any{"tls_verify": true})
		r := get(ctx, client(""), sys.ProxyURL+"/tls", json502...)
		Expect(r.Status).To(Equal(http.StatusBadGateway))
		Expect(r.JSON()).To(HaveKeyWithValue("message", badUpstream))

		ca := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
		patch(ctx, sys, "/services/"+svc, map[string]any{"tls_verify": true, "ca_certificates": []string{ca.ID}})
		Expect(get(ctx, client(""), sys.ProxyURL+"/tls").Status).To(Equal(http.StatusOK))

		patch(ctx, sys, "/ca_certificates/"+ca.ID, map[string]any{"cert": certPEM(fixtures.RSARootCA)})
		Expect(get(ctx, client(""), sys.ProxyURL+"/tls", json502...).Status).To(Equal(http.StatusBadGateway), "the PATCHed CA applies to the next request")
		patch(ctx, sys, "/ca_certificates/"+ca.ID, map[string]any{"cert": certPEM(fixtures.RootCA)})
		Expect(get(ctx, client(""), sys.ProxyURL+"/tls").Status).To(Equal(http.StatusOK))
	})

	suite.It("K-UP-5", "tls_verify_depth 0 with an intermediate chain → 502, 1 → 200", func(ctx SpecContext) {
		ca := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
		svc := serviceTo(ctx, sys, "tls", sys.EchoTLSURL+"/anything", "/tls", map[string]any{"tls_verify": true, "ca_certificates": []string{ca.ID}})
		patch(ctx, sys, "/services/"+svc, map[string]any{"tls_verify_depth": 0})
		r := get(ctx, client(""), sys.ProxyURL+"/tls", json502...)
		Expect(r.Status).To(Equal(http.StatusBadGateway))
		Expect(r.JSON()).To(HaveKeyWithValue("message", badUpstream))
		patch(ctx, sys, "/services/"+svc, map[string]any{"tls_verify_depth": 1})
		Expect(get(ctx, client(""), sys.ProxyURL+"/tls").Status).To(Equal(http.StatusOK))
	})

	Describe("with kong.conf settings", func() {
		suite.It("K-UP-1", "client_ssl = on with client_ssl_cert/_key: that certificate is presented upstream", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			s := startKong(ctx, "client_ssl = on", "client_ssl_cert = "+file("gateway-client.crt"), "client_ssl_cert_key = "+file("gateway-client.key"))
			serviceTo(ctx, s, "mtls", s.MTLSEchoURL+"/anything", "/mtls", nil)
			r := get(ctx, client(""), s.ProxyURL+"/mtls")
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(upstreamSaw(r)).To(Equal(globalCN))
		})

		suite.It("K-UP-1", "client_ssl_cert given inline as PEM works the same", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			id := pki.Get(fixtures.GatewayClient)
			inline := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
			s := startKong(ctx, "client_ssl = on", "client_ssl_cert = "+inline(id.CertPEM()), "client_ssl_cert_key = "+inline(must(id.KeyPEM())))
			serviceTo(ctx, s, "mtls", s.MTLSEchoURL+"/anything", "/mtls", nil)
			Expect(upstreamSaw(get(ctx, client(""), s.ProxyURL+"/mtls"))).To(Equal(globalCN))
		})

		suite.It("K-UP-1", "only one of client_ssl_cert and client_ssl_cert_key → the gateway does not start, and says which is missing", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			_, err := kt.StartKong(ctx, harness.KongSetup{PKI: pki, Conf: []string{"client_ssl = on", "client_ssl_cert = " + file("gateway-client.crt")}})
			Expect(err).To(MatchError(ContainSubstring("client_ssl_cert_key must be specified")))
			_, err = kt.StartKong(ctx, harness.KongSetup{PKI: pki, Conf: []string{"client_ssl = on", "client_ssl_cert_key = " + file("gateway-client.key")}})
			Expect(err).To(MatchError(ContainSubstring("client_ssl_cert must be specified")))
		})

		suite.It("K-UP-2", "precedence service > upstream > global: remove each and the next one shows", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			s := startKong(ctx, "client_ssl = on", "client_ssl_cert = "+file("gateway-client.crt"), "client_ssl_cert_key = "+file("gateway-client.key"))
			host := strings.TrimPrefix(s.MTLSEchoURL, "https://")
			upCert := certEntity(ctx, s, fixtures.UpstreamClient)
			svcCert := certEntity(ctx, s, fixtures.ServiceClient)
			Expect(s.Admin.Do(ctx, http.MethodPost, "/upstreams", map[string]any{"name": "backend", "client_certificate": map[string]any{"id": upCert.ID}}, nil)).To(Succeed())
			Expect(s.Admin.Do(ctx, http.MethodPost, "/upstreams/backend/targets", map[string]any{"target": host}, nil)).To(Succeed())
			svc := serviceTo(ctx, s, "svc", "https://backend/anything", "/p", map[string]any{"client_certificate": map[string]any{"id": svcCert.ID}})

			Expect(upstreamSaw(get(ctx, client(""), s.ProxyURL+"/p"))).To(Equal(serviceCN))
			patch(ctx, s, "/services/"+svc, map[string]any{"client_certificate": nil})
			Expect(upstreamSaw(get(ctx, client(""), s.ProxyURL+"/p"))).To(Equal(upstreamCN))
			patch(ctx, s, "/upstreams/backend", map[string]any{"client_certificate": nil})
			Expect(upstreamSaw(get(ctx, client(""), s.ProxyURL+"/p"))).To(Equal(globalCN))
		})

		suite.It("K-UP-5", "global nginx_proxy_proxy_ssl_verify = on with a trusted certificate that does not match → 502; service tls_verify=false → 200", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			s := startKong(ctx, "nginx_proxy_proxy_ssl_verify = on", "nginx_proxy_proxy_ssl_trusted_certificate = "+file("ca-rsa.crt"))
			svc := serviceTo(ctx, s, "tls", s.EchoTLSURL+"/anything", "/tls", nil)
			r := get(ctx, client(""), s.ProxyURL+"/tls", json502...)
			Expect(r.Status).To(Equal(http.StatusBadGateway))
			Expect(r.JSON()).To(HaveKeyWithValue("message", badUpstream))
			patch(ctx, s, "/services/"+svc, map[string]any{"tls_verify": false})
			Expect(get(ctx, client(""), s.ProxyURL+"/tls").Status).To(Equal(http.StatusOK))
		})

		suite.It("K-UP-5", "global verify with the right trusted certificate and nginx_proxy_proxy_ssl_verify_depth 0 → 502, depth 1 → 200", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
			for depth, status := range map[string]int{"0": http.StatusBadGateway, "1": http.StatusOK} {
				s := startKong(ctx, "nginx_proxy_proxy_ssl_verify = on", "nginx_proxy_proxy_ssl_trusted_certificate = "+file("ca.crt"), "nginx_proxy_proxy_ssl_verify_depth = "+depth)
				serviceTo(ctx, s, "tls", s.EchoTLSURL+"/anything", "/tls", nil)
				Expect(get(ctx, client(""), s.ProxyURL+"/tls", json502...).Status).To(Equal(status), "depth "+depth)
			}
		})
	})
})

var _ = Describe("upstream failures", func() {
	suite.It("K-UP-6", "a closed port → 502, a slow upstream past read_timeout → 504, an unknown host → 503, an upstream without targets → 503; none hangs", func(ctx SpecContext) {
		closed := closedPort(ctx)
		serviceTo(ctx, sys, "closed", "http://"+closed+"/", "/closed", map[string]any{"connect_timeout": 2000})
		serviceTo(ctx, sys, "slow", sys.EchoURL+"/delay/5", "/slow", map[string]any{"read_timeout": 300})
		serviceTo(ctx, sys, "nxdomain", "http://nonexistent.invalid/", "/nxdomain", map[string]any{"connect_timeout": 2000})
		Expect(sys.Admin.Do(ctx, http.MethodPost, "/upstreams", map[string]any{"name": "empty"}, nil)).To(Succeed())
		serviceTo(ctx, sys, "empty", "http://empty/", "/empty", nil)
		for path, want := range map[string]struct {
			status int
			msg    string
		}{
			"/closed":   {http.StatusBadGateway, badUpstream},
			"/slow":     {http.StatusGatewayTimeout, "The upstream server is timing out"},
			"/nxdomain": {http.StatusServiceUnavailable, "name resolution failed"},
			"/empty":    {http.StatusServiceUnavailable, "failure to get a peer from the ring-balancer"},
		} {
			r := get(ctx, client(""), sys.ProxyURL+path, json502...)
			Expect(r.Status).To(Equal(want.status), path)
			Expect(r.JSON()).To(HaveKeyWithValue("message", want.msg), path)
		}
	}, SpecTimeout(30e9))

	suite.It("K-UP-6", "timeouts default to 60000 ms", func(ctx SpecContext) {
		must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "d", URL: sys.EchoURL}))
		svc := must(sys.Admin.List(ctx, "/services"))[0]
		Expect(svc).To(And(HaveKeyWithValue("connect_timeout", 60000.0), HaveKeyWithValue("read_timeout", 60000.0), HaveKeyWithValue("write_timeout", 60000.0)))
	})
})

// closedPort returns a loopback address nothing listens on.
func closedPort(ctx context.Context) string {
	var lc = netListenConfig()
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	return addr
}
