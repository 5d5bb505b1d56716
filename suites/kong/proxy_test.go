package kong_test

import (
	"net"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/kongapi"
)

var _ = Describe("proxy", func() {
	suite.It("K-PROXY-1", "proxied responses carry Via, X-Kong-Request-Id and the latency headers", func(ctx SpecContext) {
		echoRoute(ctx, "echo", "/echo")
		r := get(ctx, client(""), sys.ProxyURL+"/echo")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Header.Get("Via")).To(Equal("1.1 "+sys.Product), "Kong's Via: 1.1 kong/<version>")
		Expect(r.Header.Get("X-Kong-Request-Id")).To(MatchRegexp(`^[0-9a-f]{32}$`))
		Expect(r.Header.Get("X-Kong-Proxy-Latency")).To(MatchRegexp(`^\d+$`))
		Expect(r.Header.Get("X-Kong-Upstream-Latency")).To(MatchRegexp(`^\d+$`))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Kong-Request-Id", r.Header.Get("X-Kong-Request-Id")))
	})

	suite.It("K-PROXY-1", "the upstream gets X-Forwarded-For/Proto/Host/Port/Path/Prefix and X-Real-IP", func(ctx SpecContext) {
		echoRoute(ctx, "echo", "/echo")
		r := get(ctx, client(""), sys.ProxyTLSURL+"/echo/deeper?q=1", "X-Forwarded-For", "203.0.113.9")
		Expect(r.Status).To(Equal(http.StatusOK))
		// The client address is whatever the gateway saw (127.0.0.1 in-process, the network's
		// gateway across Docker), and it must be the same in both headers.
		clientIP := r.Echo.Headers["X-Real-Ip"]
		Expect(net.ParseIP(clientIP)).NotTo(BeNil(), "X-Real-IP %q", clientIP)
		Expect(r.Echo.Headers).To(And(
			HaveKeyWithValue("X-Forwarded-For", "203.0.113.9, "+clientIP),
			HaveKeyWithValue("X-Forwarded-Proto", "https"),
			HaveKeyWithValue("X-Forwarded-Host", "127.0.0.1"),
			HaveKeyWithValue("X-Forwarded-Port", sys.ProxyTLSListenPort),
			HaveKeyWithValue("X-Forwarded-Path", "/echo/deeper"),
			HaveKeyWithValue("X-Forwarded-Prefix", "/echo"),
		))
		Expect(r.Echo.URL).To(HaveSuffix("/anything/deeper?q=1"))
	})

	suite.It("K-PROXY-1", "no route → 404 no Route matched with those values", func(ctx SpecContext) {
		echoRoute(ctx, "echo", "/echo")
		r := get(ctx, client(""), sys.ProxyURL+"/nowhere", "Accept", "application/json")
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "no Route matched with those values"))
		Expect(r.JSON()).To(HaveKeyWithValue("request_id", r.Header.Get("X-Kong-Request-Id")))
		Expect(r.Header.Get("X-Kong-Response-Latency")).To(MatchRegexp(`^\d+$`))
		Expect(r.Header.Get("Server")).To(Equal(sys.Product), "Kong's Server: kong/<version>")
	})

	suite.It("K-PROXY-1", "paths are prefixes, the longest wins, strip_path joins as Kong's v0 does", func(ctx SpecContext) {
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "s", URL: sys.EchoURL + "/s"}))
		no := false
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "short", Paths: []string{"/a"}, Service: &kongapi.Ref{ID: svc.ID}}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "long", Paths: []string{"/a/b"}, StripPath: &no, Service: &kongapi.Ref{ID: svc.ID}}))
		cases := map[string]string{
			"/a":       "/s",
			"/a/x":     "/s/x",
			"/abc":     "/s/bc",
			"/a/b":     "/s/a/b",
			"/a/b/c":   "/s/a/b/c",
			"/a/x?y=1": "/s/x?y=1",
		}
		for path, upstreamPath := range cases {
			r := get(ctx, client(""), sys.ProxyURL+path)
			Expect(r.Status).To(Equal(http.StatusOK), path)
			Expect(r.Echo.URL).To(HaveSuffix(upstreamPath), path)
		}
	})

	suite.It("K-PROXY-1", "a service given by url: protocol, host, port and path; the Host header is the service's", func(ctx SpecContext) {
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "tls-echo", URL: sys.EchoTLSURL + "/anything/tls"}))
		Expect(svc.Protocol).To(Equal("https"))
		Expect(*svc.Path).To(Equal("/anything/tls"))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Paths: []string{"/t"}, Service: &kongapi.Ref{ID: svc.ID}}))
		r := get(ctx, client(""), sys.ProxyURL+"/t")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Echo.TLS).NotTo(BeNil(), "the upstream was reached over TLS")
		Expect(r.Echo.Headers["Host"]).To(Equal(strings.TrimPrefix(sys.EchoTLSURL, "https://")))
	})
})
