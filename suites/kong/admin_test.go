package kong_test

import (
	"context"
	"github.com/mtlsgate/mtlsgate/reference/kong"
	"net/http"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

var _ = Describe("Admin API", func() {
	suite.It("K-ADM-1", "POST /ca_certificates (JSON) → 201 with id, cert, cert_digest (SHA-256 of the DER), tags, timestamps", func(ctx SpecContext) {
		r := adminRaw(ctx, http.MethodPost, "/ca_certificates", "application/json",
			must(jsonBody(map[string]any{"cert": certPEM(fixtures.RootCA), "tags": []string{"team-a"}})))
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		ca := r.JSON()
		Expect(ca).To(HaveKeyWithValue("id", MatchRegexp(`^[0-9a-f-]{36}$`)))
		Expect(ca).To(HaveKeyWithValue("cert", certPEM(fixtures.RootCA)))
		Expect(ca).To(HaveKeyWithValue("cert_digest", digest(fixtures.RootCA)))
		Expect(ca).To(HaveKeyWithValue("tags", ConsistOf("team-a")))
		Expect(ca["created_at"]).To(BeNumerically("~", time.Now().Unix(), 5))
		Expect(ca["updated_at"]).To(BeNumerically(">=", ca["created_at"]))
	})

	suite.It("K-ADM-1", "POST /ca_certificates as multipart (curl -F cert=@ca.crt) → 201 with the same digest", func(ctx SpecContext) {
		r := adminMultipart(ctx, http.MethodPost, "/ca_certificates", nil, map[string][]byte{"cert": pki.Get(fixtures.RootCA).CertPEM()})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("cert_digest", digest(fixtures.RootCA)))
	})

	suite.It("K-ADM-1", "GET list {data, next:null}, GET, PATCH, PUT and DELETE by id", func(ctx SpecContext) {
		ca := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
		other := must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RSARootCA)))

		r := adminRaw(ctx, http.MethodGet, "/ca_certificates", "", nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		list := r.JSON()
		Expect(list).To(HaveKeyWithValue("next", BeNil()))
		Expect(list["data"]).To(ConsistOf(
			HaveKeyWithValue("id", ca.ID), HaveKeyWithValue("id", other.ID)))

		r = adminRaw(ctx, http.MethodGet, "/ca_certificates/"+ca.ID, "", nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.JSON()).To(HaveKeyWithValue("cert_digest", digest(fixtures.RootCA)))

		r = adminForm(ctx, http.MethodPatch, "/ca_certificates/"+ca.ID, url.Values{"tags[]": {"patched"}})
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.JSON()).To(And(HaveKeyWithValue("tags", ConsistOf("patched")), HaveKeyWithValue("cert_digest", digest(fixtures.RootCA))))

		r = adminRaw(ctx, http.MethodPut, "/ca_certificates/"+ca.ID, "application/json",
			must(jsonBody(map[string]any{"cert": certPEM(fixtures.IntermediateCA)})))
		Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
		Expect(r.JSON()).To(And(HaveKeyWithValue("id", ca.ID), HaveKeyWithValue("cert_digest", digest(fixtures.IntermediateCA)),
			HaveKeyWithValue("tags", BeNil())))

		r = adminRaw(ctx, http.MethodDelete, "/ca_certificates/"+ca.ID, "", nil)
		Expect(r.Status).To(Equal(http.StatusNoContent))
		r = adminRaw(ctx, http.MethodGet, "/ca_certificates/"+ca.ID, "", nil)
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.JSON()).To(Equal(map[string]any{"message": "Not found"}))
	})

	Describe("rejected calls", func() {
		// rejection is the answer a bad call must get: status, Kong error code, message (a string
		// or a matcher) and a matcher per field of "fields".
		type rejection struct {
			status  int
			code    float64
			message any
			fields  fieldsWant
		}
		// expectRejected sends a request and checks Kong's error shape, then that the whole
		// configuration is exactly as before.
		expectRejected := func(ctx context.Context, send func() response, want rejection) {
			before := snapshot(ctx)
			r := send()
			Expect(r.Status).To(Equal(want.status), string(r.Body))
			body := r.JSON()
			Expect(body).To(HaveKeyWithValue("code", want.code))
			Expect(body).To(HaveKeyWithValue("message", want.message))
			Expect(body).To(HaveKey("name"))
			Expect(body["fields"]).To(HaveLen(len(want.fields)))
			for k, m := range want.fields {
				Expect(body["fields"]).To(HaveKeyWithValue(k, m))
			}
			Expect(snapshot(ctx)).To(Equal(before), "a rejected call changed the configuration")
		}
		caCert := func(ctx context.Context, pem string) func() response {
			return func() response {
				return adminRaw(ctx, http.MethodPost, "/ca_certificates", "application/json", must(jsonBody(map[string]any{"cert": pem})))
			}
		}

		suite.It("K-ADM-2", "malformed PEM → 400 schema violation naming cert", func(ctx SpecContext) {
			expectRejected(ctx, caCert(ctx, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"), rejection{
				400, 2, HavePrefix("schema violation (cert: invalid certificate"), fieldsWant{"cert": HavePrefix("invalid certificate")},
			})
		})
		// ca_certificates.lua checks the certificate in a custom entity check: its errors are
		// entity-level ("@entity"), not errors of the cert field.
		entityLevel := func(msg string) rejection {
			return rejection{400, 2, "schema violation (" + msg + ")", fieldsWant{"@entity": ConsistOf(msg)}}
		}
		suite.It("K-ADM-2", `a non-CA certificate → 400 'missing the "CA" basic constraint', an entity-level error`, func(ctx SpecContext) {
			msg := `certificate does not appear to be a CA because it is missing the "CA" basic constraint`
			expectRejected(ctx, caCert(ctx, certPEM(fixtures.Client)), entityLevel(msg))
			expectRejected(ctx, caCert(ctx, certPEM(fixtures.NotACA)), entityLevel(msg))
		})
		suite.It("K-ADM-2", "an expired CA → 400 'certificate expired', an entity-level error", func(ctx SpecContext) {
			expired := must(pki.Issue(fixtures.Request{Name: "expired-ca", Kind: fixtures.KindCA, IsCA: true, CN: "Expired CA",
				NotBefore: -2 * 365 * 24 * time.Hour, NotAfter: -24 * time.Hour}))
			expectRejected(ctx, caCert(ctx, string(expired.CertPEM())), entityLevel(`certificate expired, "Not After" time is in the past`))
		})
		suite.It("K-ADM-2", "several certificates in one upload → 400 'please submit only one certificate at a time', an entity-level error", func(ctx SpecContext) {
			expectRejected(ctx, caCert(ctx, certPEM(fixtures.RootCA)+certPEM(fixtures.RSARootCA)),
				entityLevel("please submit only one certificate at a time"))
		})
		suite.It("K-ADM-2", "no cert → 400 'required field missing'", func(ctx SpecContext) {
			expectRejected(ctx, func() response { return adminForm(ctx, http.MethodPost, "/ca_certificates", url.Values{"tags": {"x"}}) },
				rejection{400, 2, "schema violation (cert: required field missing)", fieldsWant{"cert": Equal("required field missing")}})
		})
		suite.It("K-ADM-2", "a duplicate CA → 409 UNIQUE violation on cert_digest", func(ctx SpecContext) {
			must(sys.Admin.CreateCACertificate(ctx, certPEM(fixtures.RootCA)))
			d := digest(fixtures.RootCA)
			expectRejected(ctx, caCert(ctx, certPEM(fixtures.RootCA)),
				rejection{409, 5, `UNIQUE violation detected on '{cert_digest="` + d + `"}'`, fieldsWant{"cert_digest": Equal(d)}})
		})
		suite.It("K-ADM-2", "an unknown plugin name → 400 naming name", func(ctx SpecContext) {
			msg := "plugin 'mtls-auht' not enabled; add it to the 'plugins' configuration property"
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/plugins", url.Values{"name": {"mtls-auht"}})
			}, rejection{400, 2, "schema violation (name: " + msg + ")", fieldsWant{"name": Equal(msg)}})
		})
		suite.It("K-ADM-2", "mtls-auth without ca_certificates → 400 naming config.ca_certificates", func(ctx SpecContext) {
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/plugins", url.Values{"name": {kong.MTLSAuthName}})
			}, rejection{400, 2, "schema violation (config.ca_certificates: required field missing)",
				fieldsWant{"config": HaveKeyWithValue("ca_certificates", "required field missing")}})
		})
		suite.It("K-ADM-2", "mtls-auth naming a CA that does not exist → 400 naming config.ca_certificates", func(ctx SpecContext) {
			missing := "3f1d3a4e-0e6f-4b8e-9a51-5c1f1d2b7c11"
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/plugins", url.Values{"name": {kong.MTLSAuthName}, "config.ca_certificates": {missing}})
			}, rejection{400, 2, "schema violation (config.ca_certificates: CA Certificate '" + missing + "' does not exist)",
				fieldsWant{"config": HaveKeyWithValue("ca_certificates", ContainSubstring(missing))}})
		})
		suite.It("K-ADM-2", "an unknown field → 400 'unknown field'", func(ctx SpecContext) {
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/consumers", url.Values{"username": {"x"}, "nickname": {"y"}})
			}, rejection{400, 2, "schema violation (nickname: unknown field)", fieldsWant{"nickname": Equal("unknown field")}})
		})
		suite.It("K-ADM-2", "a route naming a missing service → 400 foreign key violation", func(ctx SpecContext) {
			missing := "6a7f1c52-3b2d-4c8e-8f1a-2d9e0b4c5a61"
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/routes", url.Values{"paths[]": {"/x"}, "service.id": {missing}})
			}, rejection{400, 4, `the foreign key '{id="` + missing + `"}' does not reference an existing 'services' entity.`,
				fieldsWant{"service": Equal(map[string]any{"id": missing})}})
		})
		suite.It("K-ADM-2", "a credential for a missing CA → 400 foreign key violation naming ca_certificate", func(ctx SpecContext) {
			consumer(ctx, "demo@apim.eu", "")
			missing := "0b5d2c1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPost, "/consumers/demo@apim.eu/mtls-auth", url.Values{"subject_name": {"x"}, "ca_certificate.id": {missing}})
			}, rejection{400, 4, `the foreign key '{id="` + missing + `"}' does not reference an existing 'ca_certificates' entity.`,
				fieldsWant{"ca_certificate": Equal(map[string]any{"id": missing})}})
		})
		suite.It("K-ADM-2", "a PATCH that breaks the schema → 400 and the entity is unchanged", func(ctx SpecContext) {
			svc := echoRoute(ctx, "echo", "/e")
			expectRejected(ctx, func() response {
				return adminForm(ctx, http.MethodPatch, "/services/"+svc.ID, url.Values{"port": {"70000"}})
			}, rejection{400, 2, "schema violation (port: value should be between 0 and 65535)", fieldsWant{"port": Equal("value should be between 0 and 65535")}})
		})
		suite.It("K-ADM-2", "deleting a CA a plugin uses → 400 and both stay", func(ctx SpecContext) {
			caID := mtlsAuth(ctx, nil)
			before := snapshot(ctx)
			r := adminRaw(ctx, http.MethodDelete, "/ca_certificates/"+caID, "", nil)
			Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
			Expect(r.JSON()["message"]).To(MatchRegexp(`^ca certificate ` + caID + ` is still referenced by plugins \(id = [0-9a-f-]+\)$`))
			Expect(snapshot(ctx)).To(Equal(before))
		})
		suite.It("K-ADM-2", "a body that is not JSON → 400 'Cannot parse JSON body'", func(ctx SpecContext) {
			before := snapshot(ctx)
			r := adminRaw(ctx, http.MethodPost, "/consumers", "application/json", []byte(`{"username":`))
			Expect(r.Status).To(Equal(http.StatusBadRequest))
			Expect(r.JSON()).To(HaveKeyWithValue("message", "Cannot parse JSON body"))
			Expect(snapshot(ctx)).To(Equal(before))
		})
	})

	suite.It("K-ADM-2", "an unknown entity → 404 {\"message\":\"Not found\"}", func(ctx SpecContext) {
		for _, path := range []string{"/services/nope", "/consumers/nobody", "/ca_certificates/6a7f1c52-3b2d-4c8e-8f1a-2d9e0b4c5a61"} {
			r := adminRaw(ctx, http.MethodGet, path, "", nil)
			Expect(r.Status).To(Equal(http.StatusNotFound), path)
			Expect(r.JSON()).To(Equal(map[string]any{"message": "Not found"}), path)
		}
	})

	suite.It("K-ADM-1", "consumers, services and routes are addressable by name; nested routes work", func(ctx SpecContext) {
		consumer(ctx, "demo@apim.eu", "demo")
		r := adminRaw(ctx, http.MethodGet, "/consumers/demo@apim.eu", "", nil)
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.JSON()).To(HaveKeyWithValue("custom_id", "demo"))
		svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "echo", URL: sys.EchoURL + "/anything"}))
		r = adminForm(ctx, http.MethodPost, "/services/echo/routes", url.Values{"paths[]": {"/a", "/b"}, "name": {"r1"}})
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(And(HaveKeyWithValue("paths", ConsistOf("/a", "/b")), HaveKeyWithValue("service", HaveKeyWithValue("id", svc.ID)),
			HaveKeyWithValue("strip_path", true), HaveKeyWithValue("protocols", ConsistOf("http", "https"))))
		Expect(must(sys.Admin.List(ctx, "/services/echo/routes"))).To(HaveLen(1))
	})
})
