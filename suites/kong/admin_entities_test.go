package kong_test

import (
	"context"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

// rejects posts body as JSON and expects a schema violation naming field with msg, and nothing
// changed.
func rejects(ctx context.Context, method, path string, body map[string]any, status int, field string, msg gomegaMatcher) {
	before := snapshot(ctx)
	r := adminRaw(ctx, method, path, "application/json", must(jsonBody(body)))
	ExpectWithOffset(1, r.Status).To(Equal(status), string(r.Body))
	ExpectWithOffset(1, r.JSON()["fields"]).To(HaveKeyWithValue(field, msg), string(r.Body))
	ExpectWithOffset(1, snapshot(ctx)).To(Equal(before), "a rejected call changed the configuration")
}

var _ = Describe("Admin API entities", func() {
	suite.It("K-ADM-3", "/certificates with snis and cert_alt; /snis lists them; deleting the certificate deletes its SNIs", func(ctx SpecContext) {
		cert, key := keyPair(fixtures.SNIAPI)
		certAlt, keyAlt := keyPair(fixtures.SNIAPIRSA)
		r := adminRaw(ctx, http.MethodPost, "/certificates", "application/json", must(jsonBody(map[string]any{
			"cert": cert, "key": key, "cert_alt": certAlt, "key_alt": keyAlt, "snis": []string{"api.example.test", "*.example.test"}})))
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		c := r.JSON()
		Expect(c).To(And(HaveKeyWithValue("snis", ConsistOf("api.example.test", "*.example.test")), HaveKeyWithValue("cert_alt", certAlt)))
		snis := must(sys.Admin.List(ctx, "/snis"))
		Expect(snis).To(ConsistOf(
			And(HaveKeyWithValue("name", "api.example.test"), HaveKeyWithValue("certificate", HaveKeyWithValue("id", c["id"]))),
			HaveKeyWithValue("name", "*.example.test")))
		r = adminForm(ctx, http.MethodPost, "/snis", url.Values{"name": {"other.example.test"}, "certificate.id": {c["id"].(string)}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(adminRaw(ctx, http.MethodGet, "/certificates/"+c["id"].(string), "", nil).JSON()["snis"]).To(HaveLen(3))
		Expect(adminRaw(ctx, http.MethodGet, "/snis/api.example.test", "", nil).Status).To(Equal(http.StatusOK))
		Expect(adminRaw(ctx, http.MethodDelete, "/certificates/"+c["id"].(string), "", nil).Status).To(Equal(http.StatusNoContent))
		Expect(must(sys.Admin.List(ctx, "/snis"))).To(BeEmpty())
	})

	suite.It("K-ADM-3", "a key that does not match its certificate → 400 'certificate does not match key'", func(ctx SpecContext) {
		cert, _ := keyPair(fixtures.SNIAPI)
		_, otherKey := keyPair(fixtures.SNIOther)
		rejects(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": otherKey}, http.StatusBadRequest,
			"@entity", ConsistOf("certificate does not match key"))
	})

	suite.It("K-ADM-3", "a cert_alt of the same key type → 400", func(ctx SpecContext) {
		cert, key := keyPair(fixtures.SNIAPI)
		alt, altKey := keyPair(fixtures.SNIOther)
		rejects(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key, "cert_alt": alt, "key_alt": altKey}, http.StatusBadRequest,
			"@entity", ConsistOf(ContainSubstring("need to have different type")))
	})

	suite.It("K-ADM-3", "a wildcard SNI in the wrong place, or a taken one, is rejected", func(ctx SpecContext) {
		cert, key := keyPair(fixtures.SNIAPI)
		rejects(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key, "snis": []string{"api.*.test"}}, http.StatusBadRequest,
			"snis", Equal([]any{"wildcard must be leftmost or rightmost character"}))
		c := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
		rejects(ctx, http.MethodPost, "/snis", map[string]any{"name": "api.example.test", "certificate": map[string]any{"id": c.ID}}, http.StatusConflict,
			"name", Equal("api.example.test"))
		rejects(ctx, http.MethodPost, "/snis", map[string]any{"name": "*.*.test", "certificate": map[string]any{"id": c.ID}}, http.StatusBadRequest,
			"name", Equal("only one wildcard must be specified"))
	})

	suite.It("K-ADM-3", "services: TLS fields on an http service must be null; an unknown certificate id is a foreign key violation; depth 0–64", func(ctx SpecContext) {
		rejects(ctx, http.MethodPost, "/services", map[string]any{"url": "http://example.test", "tls_verify": true}, http.StatusBadRequest,
			"tls_verify", Equal("value must be null"))
		rejects(ctx, http.MethodPost, "/services", map[string]any{"url": "http://example.test", "ca_certificates": []string{"0b5d2c1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"}},
			http.StatusBadRequest, "ca_certificates", Equal("value must be null"))
		missing := "0b5d2c1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
		before := snapshot(ctx)
		r := adminRaw(ctx, http.MethodPost, "/services", "application/json", must(jsonBody(map[string]any{"url": "https://example.test", "client_certificate": map[string]any{"id": missing}})))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(And(HaveKeyWithValue("code", 4.0),
			HaveKeyWithValue("message", `the foreign key '{id="`+missing+`"}' does not reference an existing 'certificates' entity.`)))
		Expect(snapshot(ctx)).To(Equal(before))
		rejects(ctx, http.MethodPost, "/services", map[string]any{"url": "https://example.test", "tls_verify_depth": 65}, http.StatusBadRequest,
			"tls_verify_depth", Equal("value should be between 0 and 64"))
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{URL: "http://example.test"}))
		rejects(ctx, http.MethodPatch, "/services/"+svc.ID, map[string]any{"tls_verify": true}, http.StatusBadRequest, "tls_verify", Equal("value must be null"))
	})

	suite.It("K-ADM-3", "routes: hosts and snis are stored; snis need an https protocol; a service's routes block its deletion", func(ctx SpecContext) {
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "s", URL: sys.EchoURL}))
		r := adminForm(ctx, http.MethodPost, "/services/s/routes", url.Values{"hosts[]": {"a.test", "*.b.test"}, "snis[]": {"a.test"}, "protocols[]": {"https"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(And(HaveKeyWithValue("hosts", ConsistOf("a.test", "*.b.test")), HaveKeyWithValue("snis", ConsistOf("a.test"))))
		rejects(ctx, http.MethodPost, "/routes", map[string]any{"snis": []string{"a.test"}, "protocols": []string{"http"}, "service": map[string]any{"id": svc.ID}},
			http.StatusBadRequest, "snis", ContainSubstring("'snis' can only be set when 'protocols' is"))
		before := snapshot(ctx)
		r = adminRaw(ctx, http.MethodDelete, "/services/s", "", nil)
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(And(HaveKeyWithValue("code", 4.0), HaveKeyWithValue("message", "an existing 'routes' entity references this 'services' entity")))
		Expect(snapshot(ctx)).To(Equal(before))
	})

	suite.It("K-ADM-3", "plugins scoped to a service and a route; consumers' mtls-auth credentials (duplicate → 409) and acls", func(ctx SpecContext) {
		ca := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
		svc := echoRoute(ctx, "echo", "/e")
		r := adminForm(ctx, http.MethodPost, "/services/echo/plugins", url.Values{"name": {kong.MTLSAuthName}, "config.ca_certificates": {ca.ID}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("service", HaveKeyWithValue("id", svc.ID)))
		r = adminForm(ctx, http.MethodPost, "/routes/echo/plugins", url.Values{"name": {kong.ACLName}, "config.allow": {"a"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		r = adminForm(ctx, http.MethodPost, "/services/echo/plugins", url.Values{"name": {kong.MTLSAuthName}, "config.ca_certificates": {ca.ID}})
		Expect(r.Status).To(Equal(http.StatusConflict), "one mtls-auth per scope")

		consumer(ctx, "demo@apim.eu", "")
		r = adminForm(ctx, http.MethodPost, "/consumers/demo@apim.eu/mtls-auth", url.Values{"subject_name": {"demo@apim.eu"}, "ca_certificate.id": {ca.ID}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(And(HaveKeyWithValue("subject_name", "demo@apim.eu"), HaveKeyWithValue("ca_certificate", HaveKeyWithValue("id", ca.ID))))
		r = adminForm(ctx, http.MethodPost, "/consumers/demo@apim.eu/mtls-auth", url.Values{"subject_name": {"demo@apim.eu"}, "ca_certificate.id": {ca.ID}})
		Expect(r.Status).To(Equal(http.StatusConflict))
		Expect(r.JSON()).To(HaveKeyWithValue("code", 5.0))
		Expect(must(sys.Admin.List(ctx, "/consumers/demo@apim.eu/mtls-auth"))).To(HaveLen(1))
		Expect(must(sys.Admin.List(ctx, "/mtls-auths"))).To(HaveLen(1))

		group(ctx, "demo@apim.eu", "admins")
		r = adminForm(ctx, http.MethodPost, "/consumers/demo@apim.eu/acls", url.Values{"group": {"admins"}})
		Expect(r.Status).To(Equal(http.StatusConflict))
		Expect(adminRaw(ctx, http.MethodGet, "/consumers/demo@apim.eu/acls/admins", "", nil).Status).To(Equal(http.StatusOK))
		Expect(adminRaw(ctx, http.MethodDelete, "/consumers/demo@apim.eu", "", nil).Status).To(Equal(http.StatusNoContent))
		Expect(must(sys.Admin.List(ctx, "/mtls-auths"))).To(BeEmpty(), "credentials go with their consumer")
		Expect(must(sys.Admin.List(ctx, "/acls"))).To(BeEmpty())
	})

	suite.It("K-ADM-3", "upstreams with client_certificate and targets; an unknown certificate id is refused", func(ctx SpecContext) {
		c := certEntity(ctx, sys, fixtures.UpstreamClient)
		r := adminForm(ctx, http.MethodPost, "/upstreams", url.Values{"name": {"backend"}, "client_certificate.id": {c.ID}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("client_certificate", HaveKeyWithValue("id", c.ID)))
		r = adminForm(ctx, http.MethodPost, "/upstreams/backend/targets", url.Values{"target": {"127.0.0.1:9"}, "weight": {"50"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("weight", 50.0))
		Expect(must(sys.Admin.List(ctx, "/upstreams/backend/targets"))).To(HaveLen(1))
		missing := "5d1e6f7a-8b9c-4d0e-a1f2-3b4c5d6e7f80"
		before := snapshot(ctx)
		r = adminRaw(ctx, http.MethodPatch, "/upstreams/backend", "application/json", must(jsonBody(map[string]any{"client_certificate": map[string]any{"id": missing}})))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(HaveKeyWithValue("code", 4.0))
		Expect(snapshot(ctx)).To(Equal(before))
	})
})

var _ = Describe("DB-less", func() {
	declarative := func(echo string, caPEM string) string {
		indent := func(s string) string { return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ") }
		return `_format_version: "3.0"
ca_certificates:
  - id: 2b9a1c10-0d6b-4a8e-9f1a-7c3d5e2b4f60
    cert: |
` + indent(caPEM) + `
services:
  - name: echo
    url: ` + echo + `/anything
    routes:
      - name: mtls
        paths: [/mtls]
plugins:
  - name: mtls-auth
    config:
      ca_certificates: [2b9a1c10-0d6b-4a8e-9f1a-7c3d5e2b4f60]
consumers:
  - username: demo@apim.eu
    custom_id: demo
`
	}

	suite.It("K-ADM-4", "declarative_config at start serves the file; entity writes are refused with Kong's message", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		path := filepath.Join(GinkgoT().TempDir(), "kong.yml")
		Expect(os.WriteFile(path, []byte(declarative(sys.EchoURL, certPEM(fixtures.RootCA))), 0o644)).To(Succeed())
		s := startKong(ctx, "database = off", "declarative_config = "+path)
		Expect(get(ctx, client(""), s.ProxyTLSURL+"/mtls").Status).To(Equal(http.StatusUnauthorized))
		r := get(ctx, client(fixtures.Client), s.ProxyTLSURL+"/mtls")
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.Echo.Headers).To(HaveKeyWithValue("X-Consumer-Custom-Id", "demo"))
		err := s.Admin.Do(ctx, http.MethodPost, "/consumers", map[string]any{"username": "x"}, nil)
		e, ok := kongapi.AsError(err)
		Expect(ok).To(BeTrue())
		Expect(e.Status).To(Equal(http.StatusMethodNotAllowed))
		Expect(e.Message).To(Equal("cannot create 'consumers' entities when not using a database"))
	})

	suite.It("K-ADM-4", "POST /config replaces the whole configuration (201); an invalid one → 400 and the old one stays", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		s := startKong(ctx, "database = off")
		post := func(doc string) response {
			return do(ctx, http.DefaultClient, http.MethodPost, s.AdminURL+"/config?flatten_errors=1", http.Header{"Content-Type": {"application/yaml"}}, strings.NewReader(doc))
		}
		r := post(declarative(s.EchoURL, certPEM(fixtures.RootCA)))
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(get(ctx, client(fixtures.Client), s.ProxyTLSURL+"/mtls").Status).To(Equal(http.StatusOK))

		bad := strings.Replace(declarative(s.EchoURL, certPEM(fixtures.RootCA)), "paths: [/mtls]", "paths: [mtls]", 1)
		bad = strings.Replace(bad, "username: demo@apim.eu", "username: demo@apim.eu\n    nickname: x", 1)
		r = post(bad)
		Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
		body := r.JSON()
		Expect(body).To(And(HaveKeyWithValue("code", 14.0), HaveKeyWithValue("name", "invalid declarative configuration")))
		Expect(body["message"]).To(HavePrefix("declarative config is invalid: "))
		Expect(body["flattened_errors"]).To(ContainElements(
			And(HaveKeyWithValue("entity_type", "routes"), HaveKeyWithValue("entity_name", "mtls")),
			HaveKeyWithValue("entity_type", "consumers")))
		Expect(get(ctx, client(fixtures.Client), s.ProxyTLSURL+"/mtls").Status).To(Equal(http.StatusOK), "the old config stays")

		r = post(`_format_version: "3.0"` + "\n")
		Expect(r.Status).To(Equal(http.StatusCreated))
		r = get(ctx, client(fixtures.Client), s.ProxyTLSURL+"/mtls", "Accept", "application/json")
		Expect(r.Status).To(Equal(http.StatusNotFound), "an empty config replaces everything")
	})

	suite.It("K-ADM-4", "/config is refused when a database is configured", func(ctx SpecContext) {
		r := adminRaw(ctx, http.MethodPost, "/config", "application/yaml", []byte(`_format_version: "3.0"`))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(HaveKeyWithValue("message", "this endpoint is only available when Kong is configured to not use a database"))
	})
})
