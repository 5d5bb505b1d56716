package kong_test

import (
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

var _ = Describe("Admin API against browsers and bad input", func() {
	formPost := func(ctx SpecContext, header http.Header, tweak ...func(*http.Request)) response {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		for k, v := range header {
			h[k] = v
		}
		return do(ctx, http.DefaultClient, http.MethodPost, sys.AdminURL+"/consumers", h,
			strings.NewReader(url.Values{"username": {"from-a-page"}}.Encode()), tweak...)
	}

	suite.It("K-ADM-5", "no wildcard CORS; a cross-origin or cross-site form post is refused and creates nothing; curl's works", func(ctx SpecContext) {
		r := adminRaw(ctx, http.MethodGet, "/", "", nil)
		Expect(r.Header.Values("Access-Control-Allow-Origin")).To(BeEmpty())
		before := snapshot(ctx)
		for _, h := range []http.Header{
			{"Origin": {"http://evil.example"}},
			{"Origin": {"null"}},
			{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"}},
		} {
			r := formPost(ctx, h)
			Expect(r.Status).To(Equal(http.StatusForbidden), "%v: %s", h, r.Body)
			Expect(r.JSON()["message"]).To(ContainSubstring("cross-"))
			Expect(r.Header.Values("Access-Control-Allow-Origin")).To(BeEmpty())
		}
		Expect(snapshot(ctx)).To(Equal(before))
		Expect(formPost(ctx, nil).Status).To(Equal(http.StatusCreated), "a form post without Origin, as curl sends it")
	})

	suite.It("K-ADM-5", "a Host that is not the Admin API's own name is refused (DNS rebinding), reads included", func(ctx SpecContext) {
		before := snapshot(ctx)
		r := do(ctx, http.DefaultClient, http.MethodGet, sys.AdminURL+"/consumers", nil, nil, withHost("attacker.example"))
		Expect(r.Status).To(Equal(http.StatusForbidden), string(r.Body))
		Expect(r.JSON()["message"]).To(ContainSubstring("DNS rebinding"))
		Expect(formPost(ctx, nil, withHost("attacker.example:8001")).Status).To(Equal(http.StatusForbidden))
		Expect(snapshot(ctx)).To(Equal(before))
		Expect(do(ctx, http.DefaultClient, http.MethodGet, sys.AdminURL+"/consumers", nil, nil, withHost("localhost")).Status).To(Equal(http.StatusOK))
	})

	suite.It("K-ADM-6", "http_timeout out of bounds (1e13, 0, -1, 1e300), NaN and Inf are refused and the plugin keeps its config", func(ctx SpecContext) {
		mtlsAuth(ctx, nil)
		plugins := must(sys.Admin.List(ctx, "/plugins"))
		Expect(plugins).To(HaveLen(1))
		id := plugins[0]["id"].(string)
		before := snapshot(ctx)
		for field, values := range map[string][]string{
			"http_timeout":   {"10000000000000", "0", "-1", "1e300", "NaN", "Inf"},
			"cache_ttl":      {"NaN", "-Inf", "-1"},
			"cert_cache_ttl": {"1e18", "NaN"},
		} {
			for _, v := range values {
				r := adminForm(ctx, http.MethodPatch, "/plugins/"+id, url.Values{"config." + field: {v}})
				Expect(r.Status).To(Equal(http.StatusBadRequest), "%s=%s: %s", field, v, r.Body)
				Expect(r.JSON()).To(And(HaveKeyWithValue("code", 2.0), HaveKeyWithValue("fields", HaveKeyWithValue("config", HaveKey(field)))), "%s=%s", field, v)
			}
		}
		r := adminForm(ctx, http.MethodPatch, "/routes/echo", url.Values{"regex_priority": {"Inf"}})
		Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
		Expect(r.JSON()["fields"]).To(HaveKeyWithValue("regex_priority", "expected an integer"))
		Expect(snapshot(ctx)).To(Equal(before))
		r = adminRaw(ctx, http.MethodGet, "/plugins", "", nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.JSON()["data"]).To(HaveLen(1), "GET /plugins answers with a body")
	})

	suite.It("K-ADM-6", `"config": null is validated: acl and mtls-auth are refused, and no request gets through unchecked`, func(ctx SpecContext) {
		echoRoute(ctx, "echo", "/open")
		before := snapshot(ctx)
		r := adminRaw(ctx, http.MethodPost, "/plugins", "application/json", []byte(`{"name":"`+kong.ACLName+`","config":null}`))
		Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
		Expect(r.JSON()["fields"]).To(HaveKeyWithValue("@entity", ConsistOf("at least one of these fields must be non-empty: 'config.allow', 'config.deny'")))
		r = adminRaw(ctx, http.MethodPost, "/routes/echo/plugins", "application/json", []byte(`{"name":"`+kong.MTLSAuthName+`","config":null}`))
		Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
		Expect(r.JSON()["fields"]).To(HaveKeyWithValue("config", HaveKeyWithValue("ca_certificates", "required field missing")))
		Expect(snapshot(ctx)).To(Equal(before))
	})

	suite.It("K-ADM-6", "an array beyond 10000 elements is refused; a set of repeated tags is stored once each", func(ctx SpecContext) {
		tags := make([]string, 10001)
		for i := range tags {
			tags[i] = "t"
		}
		before := snapshot(ctx)
		r := adminRaw(ctx, http.MethodPost, "/consumers", "application/json", must(jsonBody(map[string]any{"username": "u", "tags": tags})))
		Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
		Expect(r.JSON()["fields"]).To(HaveKeyWithValue("tags", "length must be at most 10000"))
		Expect(snapshot(ctx)).To(Equal(before))
		r = adminRaw(ctx, http.MethodPost, "/consumers", "application/json", must(jsonBody(map[string]any{"username": "u", "tags": tags[:10000]})))
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()["tags"]).To(Equal([]any{"t"}))
	})
})

var _ = Describe("routes by wildcard SNI", func() {
	suite.It("K-SNI-2", "a route's *.example.test matches any name ending .example.test, api.* any name starting api., as Kong's router does", func(ctx SpecContext) {
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: sys.EchoURL + "/anything"}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "suffix", Protocols: []string{"https"}, SNIs: []string{"*.example.test"}, Paths: []string{"/w"}, Service: &kongapi.Ref{ID: svc.ID}}))
		must(sys.Admin.CreateRoute(ctx, kongapi.Route{Name: "prefix", Protocols: []string{"https"}, SNIs: []string{"api.*"}, Paths: []string{"/p"}, Service: &kongapi.Ref{ID: svc.ID}}))
		through := func(sni, path string) int {
			return get(ctx, client(fixtures.Client, withSNI(sni)), sys.ProxyTLSURL+path, "Accept", "application/json").Status
		}
		Expect(through("www.example.test", "/w")).To(Equal(http.StatusOK), "a committed change applies to the next request")
		Expect(through("a.b.example.test", "/w")).To(Equal(http.StatusOK))
		Expect(through("example.org", "/w")).To(Equal(http.StatusNotFound))
		Expect(through("api.example.org", "/p")).To(Equal(http.StatusOK))
		Expect(through("api.a.b", "/p")).To(Equal(http.StatusOK))
		Expect(through("www.api.org", "/p")).To(Equal(http.StatusNotFound))
	})
})
