package kong_test

// The Admin API facts of Kong's own integration specs (spec/02-integration/04-admin_api/:
// 06-certificates_routes, 09-routes_routes, 10-services_routes, 15-off, 16-ca_certificates_routes)
// and of the code they exercise (kong/api/routes/certificates.lua, kong/api/endpoints.lua,
// kong/db/errors.lua, kong/db/schema/entities/), each restated as a spec of the catalogue ID it
// belongs to.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

// expectKongError checks a Kong error answer: its status and exact body.
func expectKongError(r response, status int, body map[string]any) {
	ExpectWithOffset(1, r.Status).To(Equal(status), string(r.Body))
	ExpectWithOffset(1, r.JSON()).To(Equal(body), string(r.Body))
}

// keyPair is an identity's certificate and key as PEM.
func keyPair(identity string) (string, string) {
	id := pki.Get(identity)
	return string(id.CertPEM()), string(must(id.KeyPEM()))
}

// postJSON sends body as JSON.
func postJSON(ctx context.Context, method, path string, body any) response {
	return adminRaw(ctx, method, path, "application/json", must(jsonBody(body)))
}

var _ = Describe("Admin API as Kong's own specs describe it", func() {
	Describe("certificates addressed by an SNI", func() {
		suite.It("K-ADM-1", "GET, PATCH and DELETE /certificates/{sni} act on the certificate that SNI names; /certificates/{sni}/snis lists and adds its SNIs", func(ctx SpecContext) {
			c := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test", "b.example.test")
			r := adminRaw(ctx, http.MethodGet, "/certificates/b.example.test", "", nil)
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("id", c.ID), HaveKeyWithValue("snis", Equal([]any{"api.example.test", "b.example.test"}))))

			r = postJSON(ctx, http.MethodPatch, "/certificates/api.example.test", map[string]any{"tags": []string{"by-sni"}})
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("id", c.ID), HaveKeyWithValue("tags", ConsistOf("by-sni")),
				HaveKeyWithValue("snis", HaveLen(2))))

			r = adminForm(ctx, http.MethodPost, "/certificates/api.example.test/snis", url.Values{"name": {"c.example.test"}})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("certificate", HaveKeyWithValue("id", c.ID)))
			Expect(must(sys.Admin.List(ctx, "/certificates/b.example.test/snis"))).To(HaveLen(3))

			Expect(adminRaw(ctx, http.MethodDelete, "/certificates/c.example.test", "", nil).Status).To(Equal(http.StatusNoContent))
			Expect(must(sys.Admin.List(ctx, "/certificates"))).To(BeEmpty())
			Expect(must(sys.Admin.List(ctx, "/snis"))).To(BeEmpty(), "the certificate's SNIs go with it")
		})

		suite.It("K-ADM-1", "an SNI no certificate has: 404 'SNI not found' for GET, PATCH, DELETE and its /snis, and nothing changes", func(ctx SpecContext) {
			certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
			before := snapshot(ctx)
			for _, call := range []struct{ method, path string }{
				{http.MethodGet, "/certificates/doesntexist.test"},
				{http.MethodPatch, "/certificates/doesntexist.test"},
				{http.MethodDelete, "/certificates/doesntexist.test"},
				{http.MethodGet, "/certificates/doesntexist.test/snis"},
				{http.MethodPost, "/certificates/doesntexist.test/snis"},
			} {
				r := postJSON(ctx, call.method, call.path, map[string]any{"name": "x.example.test"})
				expectKongError(r, http.StatusNotFound, map[string]any{"message": "SNI not found"})
			}
			Expect(snapshot(ctx)).To(Equal(before))
			r := adminRaw(ctx, http.MethodGet, "/certificates/585e4c16-c656-11e6-8db9-5f512d8a12cd/snis", "", nil)
			expectKongError(r, http.StatusNotFound, map[string]any{"message": "Not found"})
		})

		suite.It("K-ADM-1", "PUT /certificates/{sni} creates a certificate holding that SNI and the body's, once each; without snis in the body it holds none", func(ctx SpecContext) {
			cert, key := keyPair(fixtures.SNIAPI)
			r := postJSON(ctx, http.MethodPut, "/certificates/n1.example.test", map[string]any{"cert": cert, "key": key, "snis": []string{"n2.example.test", "n1.example.test"}})
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("snis", Equal([]any{"n1.example.test", "n2.example.test"})),
				HaveKeyWithValue("cert_alt", BeNil()), HaveKeyWithValue("key_alt", BeNil())))
			id := r.JSON()["id"]

			r = postJSON(ctx, http.MethodPut, "/certificates/n3.example.test", map[string]any{"cert": cert, "key": key, "snis": []string{"n4.example.test"}})
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()["snis"]).To(Equal([]any{"n3.example.test", "n4.example.test"}))
			Expect(r.JSON()["id"]).NotTo(Equal(id))

			// An existing SNI names its certificate; a PUT without snis sets them to null.
			r = postJSON(ctx, http.MethodPut, "/certificates/n1.example.test", map[string]any{"cert": cert, "key": key})
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("id", id), HaveKeyWithValue("snis", BeEmpty())))
			Expect(must(sys.Admin.List(ctx, "/certificates"))).To(HaveLen(2))
		})

		suite.It("K-ADM-1", "snis given as form fields (snis[]=…, snis[1]=… in multipart) create the certificate's SNIs", func(ctx SpecContext) {
			cert, key := keyPair(fixtures.SNIAPI)
			r := adminForm(ctx, http.MethodPost, "/certificates", url.Values{"cert": {cert}, "key": {key}, "snis[]": {"n1.example.test", "n2.example.test"}})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("snis", Equal([]any{"n1.example.test", "n2.example.test"})),
				HaveKeyWithValue("cert_alt", BeNil()), HaveKeyWithValue("key_alt", BeNil())))
			r = adminMultipart(ctx, http.MethodPost, "/certificates", map[string]string{"cert": cert, "key": key,
				"snis[1]": "n3.example.test", "snis[2]": "n4.example.test"}, nil)
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()["snis"]).To(Equal([]any{"n3.example.test", "n4.example.test"}))
		})

		suite.It("K-ADM-1", "snis come back sorted, [] when there are none, and a JSON null clears them", func(ctx SpecContext) {
			cert, key := keyPair(fixtures.SNIAPI)
			r := postJSON(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(string(r.Body)).To(ContainSubstring(`"snis":[]`))
			id := r.JSON()["id"].(string)
			r = postJSON(ctx, http.MethodPatch, "/certificates/"+id, map[string]any{"snis": []string{"z.example.test", "a.example.test"}})
			Expect(r.JSON()["snis"]).To(Equal([]any{"a.example.test", "z.example.test"}))
			r = adminRaw(ctx, http.MethodPatch, "/certificates/"+id, "application/json", []byte(`{"snis":null}`))
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(string(r.Body)).To(ContainSubstring(`"snis":[]`))
			Expect(must(sys.Admin.List(ctx, "/snis"))).To(BeEmpty())
		})
	})

	Describe("certificate validation", func() {
		suite.It("K-ADM-2", "snis duplicated within one request → 400 'schema violation (snis: <name> is duplicated)' on POST and PATCH; nothing stored", func(ctx SpecContext) {
			cert, key := keyPair(fixtures.SNIAPI)
			before := snapshot(ctx)
			r := postJSON(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key, "snis": []string{"n1.test", "n2.test", "n1.test"}})
			expectKongError(r, http.StatusBadRequest, map[string]any{"code": 2.0, "name": "schema violation",
				"message": "schema violation (snis: n1.test is duplicated)", "fields": map[string]any{"snis": "n1.test is duplicated"}})
			Expect(snapshot(ctx)).To(Equal(before))

			c := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
			before = snapshot(ctx)
			r = postJSON(ctx, http.MethodPatch, "/certificates/"+c.ID, map[string]any{"snis": []string{"n1.test", "n1.test"}})
			Expect(r.Status).To(Equal(http.StatusBadRequest))
			Expect(r.JSON()).To(HaveKeyWithValue("message", "schema violation (snis: n1.test is duplicated)"))
			Expect(snapshot(ctx)).To(Equal(before))
		})

		suite.It("K-ADM-2", "an SNI another certificate holds → 400 naming the first such SNI and that certificate; nothing stored", func(ctx SpecContext) {
			c1 := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
			c2 := certEntity(ctx, sys, fixtures.SNIOther, "b.example.test", "a.example.test")
			before := snapshot(ctx)
			r := postJSON(ctx, http.MethodPatch, "/certificates/"+c1.ID, map[string]any{"snis": []string{"b.example.test", "a.example.test"}})
			Expect(r.Status).To(Equal(http.StatusBadRequest), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("message", "schema violation (snis: a.example.test already associated with existing certificate '"+c2.ID+"')"))
			Expect(snapshot(ctx)).To(Equal(before))
		})

		suite.It("K-ADM-2", "cert_alt without key_alt, a key_alt of another certificate, two certificates of one key type: entity-level errors", func(ctx SpecContext) {
			cert, key := keyPair(fixtures.SNIAPI)
			altCert, altKey := keyPair(fixtures.SNIAPIRSA)
			entity := func(msg string) map[string]any {
				return map[string]any{"code": 2.0, "name": "schema violation", "message": "schema violation (" + msg + ")",
					"fields": map[string]any{"@entity": []any{msg}}}
			}
			before := snapshot(ctx)
			r := postJSON(ctx, http.MethodPut, "/certificates/6a7f1c52-3b2d-4c8e-8f1a-2d9e0b4c5a61", map[string]any{"cert": cert, "key": key, "cert_alt": altCert})
			expectKongError(r, http.StatusBadRequest, entity("all or none of these fields must be set: 'cert_alt', 'key_alt'"))
			r = postJSON(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key, "cert_alt": altCert, "key_alt": key})
			expectKongError(r, http.StatusBadRequest, entity("alternative certificate does not match key"))
			r = postJSON(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": key, "cert_alt": cert, "key_alt": key})
			expectKongError(r, http.StatusBadRequest, entity("certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type"))
			r = postJSON(ctx, http.MethodPost, "/certificates", map[string]any{"cert": cert, "key": altKey})
			expectKongError(r, http.StatusBadRequest, entity("certificate does not match key"))
			Expect(snapshot(ctx)).To(Equal(before))
		})

		suite.It("K-ADM-2", "PUT with an empty body names every missing field: certificates (cert, key) and snis (certificate, name)", func(ctx SpecContext) {
			r := postJSON(ctx, http.MethodPut, "/certificates/0b5d2c1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d", map[string]any{})
			expectKongError(r, http.StatusBadRequest, map[string]any{"code": 2.0, "name": "schema violation",
				"message": "2 schema violations (cert: required field missing; key: required field missing)",
				"fields":  map[string]any{"cert": "required field missing", "key": "required field missing"}})
			r = postJSON(ctx, http.MethodPut, "/snis/0b5d2c1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d", map[string]any{})
			expectKongError(r, http.StatusBadRequest, map[string]any{"code": 2.0, "name": "schema violation",
				"message": "2 schema violations (certificate: required field missing; name: required field missing)",
				"fields":  map[string]any{"certificate": "required field missing", "name": "required field missing"}})
		})

		suite.It("K-ADM-2", "SNI names: the wildcard's place is checked before the count; a taken name → 409", func(ctx SpecContext) {
			c := certEntity(ctx, sys, fixtures.SNIAPI, "api.example.test")
			for name, msg := range map[string]string{
				"*.wildcard.*":         "only one wildcard must be specified",
				"a.*.*":                "wildcard must be leftmost or rightmost character",
				"api.example.test:443": "must not have a port",
				"10.0.0.1":             "must not be an IP",
			} {
				r := postJSON(ctx, http.MethodPost, "/snis", map[string]any{"name": name, "certificate": map[string]any{"id": c.ID}})
				Expect(r.Status).To(Equal(http.StatusBadRequest), name)
				Expect(r.JSON()["fields"]).To(Equal(map[string]any{"name": msg}), name)
			}
			for _, name := range []string{"*.example.test", "example.*"} {
				r := postJSON(ctx, http.MethodPost, "/snis", map[string]any{"name": name, "certificate": map[string]any{"id": c.ID}})
				Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			}
			Expect(adminRaw(ctx, http.MethodGet, "/snis/%2A.example.test", "", nil).JSON()).To(HaveKeyWithValue("name", "*.example.test"))
			r := postJSON(ctx, http.MethodPost, "/certificates/"+c.ID+"/snis", map[string]any{"name": "api.example.test"})
			Expect(r.Status).To(Equal(http.StatusConflict))
			Expect(r.JSON()).To(HaveKeyWithValue("name", "unique constraint violation"))
		})
	})

	Describe("paging", func() {
		suite.It("K-ADM-2", "a bad size or offset → 400 invalid size (9) or invalid offset (7), with no fields", func(ctx SpecContext) {
			for _, path := range []string{"/routes", "/certificates", "/consumers"} {
				expectKongError(adminRaw(ctx, http.MethodGet, path+"?size=x", "", nil), http.StatusBadRequest,
					map[string]any{"code": 9.0, "name": "invalid size", "message": "size must be a number"})
				for _, size := range []string{"0", "1001", "1.5", "-1"} {
					expectKongError(adminRaw(ctx, http.MethodGet, path+"?size="+size, "", nil), http.StatusBadRequest,
						map[string]any{"code": 9.0, "name": "invalid size", "message": "size must be an integer between 1 and 1000"})
				}
				expectKongError(adminRaw(ctx, http.MethodGet, path+"?offset=x", "", nil), http.StatusBadRequest,
					map[string]any{"code": 7.0, "name": "invalid offset", "message": "'x' is not a valid offset: bad base64 encoding"})
				r := adminRaw(ctx, http.MethodGet, path+"?offset=%7Cpotato%7C", "", nil)
				Expect(r.Status).To(Equal(http.StatusBadRequest))
				Expect(r.JSON()).To(And(HaveKeyWithValue("code", 7.0), HaveKeyWithValue("name", "invalid offset"), Not(HaveKey("fields"))))
			}
		})

		suite.It("K-ADM-1", "an empty list is {data:[], next:null}; a page's next carries its offset and size and leads to the rest", func(ctx SpecContext) {
			r := adminRaw(ctx, http.MethodGet, "/services", "", nil)
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(string(r.Body)).To(ContainSubstring(`"data":[]`))
			Expect(r.JSON()).To(Equal(map[string]any{"data": []any{}, "next": nil}))
			for _, name := range []string{"s1", "s2", "s3", "s4", "s5"} {
				must(sys.Admin.CreateService(ctx, kongapi.Service{Name: name, URL: "http://example.test"}))
			}
			r = adminRaw(ctx, http.MethodGet, "/services?size=3", "", nil)
			page := r.JSON()
			Expect(page["data"]).To(HaveLen(3))
			Expect(page["next"]).To(Equal("/services?offset=" + url.QueryEscape(page["offset"].(string)) + "&size=3"))
			r = adminRaw(ctx, http.MethodGet, page["next"].(string), "", nil)
			Expect(r.Status).To(Equal(http.StatusOK), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("data", HaveLen(2)), HaveKeyWithValue("next", BeNil())))
		})

		suite.It("K-ADM-2", "a method a collection does not have → 405 {\"message\":\"Method not allowed\"}", func(ctx SpecContext) {
			for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch} {
				expectKongError(postJSON(ctx, m, "/routes", map[string]any{}), http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
			}
		})
	})

	Describe("services and routes", func() {
		suite.It("K-ADM-3", "a service url is split as Kong's shorthand does: path kept ('/'), port by scheme", func(ctx SpecContext) {
			r := postJSON(ctx, http.MethodPost, "/services", map[string]any{"url": "http://service.test/"})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("protocol", "http"), HaveKeyWithValue("host", "service.test"),
				HaveKeyWithValue("path", "/"), HaveKeyWithValue("port", 80.0), HaveKeyWithValue("name", BeNil()),
				HaveKeyWithValue("connect_timeout", 60000.0), HaveKeyWithValue("read_timeout", 60000.0), HaveKeyWithValue("write_timeout", 60000.0)))
			r = adminForm(ctx, http.MethodPost, "/services", url.Values{"url": {"https://service.test/"}})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("protocol", "https"), HaveKeyWithValue("port", 443.0)))
		})

		suite.It("K-ADM-1", "a service named in UTF-8 is found by its name, raw or percent-escaped; ASCII punctuation other than . - _ ~ is refused", func(ctx SpecContext) {
			svc := must(sys.Admin.CreateService(ctx, kongapi.Service{Name: "円", URL: "http://example.test"}))
			for _, path := range []string{"/services/円", "/services/%E5%86%86"} {
				r := adminRaw(ctx, http.MethodGet, path, "", nil)
				Expect(r.Status).To(Equal(http.StatusOK), path)
				Expect(r.JSON()).To(HaveKeyWithValue("id", svc.ID), path)
			}
			rejects(ctx, http.MethodPost, "/services", map[string]any{"name": "a b", "url": "http://example.test"}, http.StatusBadRequest,
				"name", Equal("invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"))
		})

		suite.It("K-ADM-2", "a service url without a host → 400 naming host and path; protocols are Kong's open-source eight", func(ctx SpecContext) {
			before := snapshot(ctx)
			expectKongError(postJSON(ctx, http.MethodPost, "/services", map[string]any{"url": "invalid url"}), http.StatusBadRequest, map[string]any{
				"code": 2.0, "name": "schema violation",
				"message": "2 schema violations (host: required field missing; path: should start with: /)",
				"fields":  map[string]any{"host": "required field missing", "path": "should start with: /"}})
			for _, u := range []string{"", " "} {
				Expect(adminForm(ctx, http.MethodPost, "/services", url.Values{"url": {u}}).Status).To(Equal(http.StatusBadRequest), "url %q", u)
			}
			r := postJSON(ctx, http.MethodPost, "/services", map[string]any{})
			Expect(r.JSON()["fields"]).To(Equal(map[string]any{"host": "required field missing"}))
			r = postJSON(ctx, http.MethodPost, "/services", map[string]any{"host": "example.test", "protocol": "foo"})
			Expect(r.JSON()["fields"]).To(Equal(map[string]any{"protocol": "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"}))
			Expect(snapshot(ctx)).To(Equal(before))
		})

		suite.It("K-ADM-3", "upstream TLS fields are for https and tls services only; a path is refused on grpc", func(ctx SpecContext) {
			rejects(ctx, http.MethodPost, "/services", map[string]any{"url": "grpcs://example.test", "tls_verify": true}, http.StatusBadRequest,
				"tls_verify", Equal("value must be null"))
			rejects(ctx, http.MethodPost, "/services", map[string]any{"url": "grpc://example.test/x"}, http.StatusBadRequest,
				"path", Equal("value must be null"))
			r := postJSON(ctx, http.MethodPost, "/services", map[string]any{"url": "tls://example.test:443", "tls_verify": true, "tls_verify_depth": 2})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		})

		suite.It("K-ADM-2", "routes: no matching attribute → @entity; a bad protocol names its position; an unknown service name → foreign keys unresolved (13)", func(ctx SpecContext) {
			before := snapshot(ctx)
			https := "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"
			for _, body := range []map[string]any{{}, {"protocols": []string{"https"}}} {
				expectKongError(postJSON(ctx, http.MethodPost, "/routes", body), http.StatusBadRequest, map[string]any{
					"code": 2.0, "name": "schema violation", "message": "schema violation (" + https + ")",
					"fields": map[string]any{"@entity": []any{https}}})
			}
			oneOf := "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
			expectKongError(postJSON(ctx, http.MethodPost, "/routes", map[string]any{"methods": []string{"GET"}, "protocols": []string{"foo", "http"}}),
				http.StatusBadRequest, map[string]any{"code": 2.0, "name": "schema violation",
					"message": "schema violation (protocols.1: " + oneOf + ")", "fields": map[string]any{"protocols": []any{oneOf}}})
			unresolved := `the foreign key cannot be resolved with '{name="non-existing"}' for an existing 'services' entity`
			expectKongError(postJSON(ctx, http.MethodPost, "/routes", map[string]any{"methods": []string{"GET"}, "service": map[string]any{"name": "non-existing"}}),
				http.StatusBadRequest, map[string]any{"code": 13.0, "name": "foreign keys unresolved",
					"message": "foreign key unresolved (service.name: " + unresolved + ")",
					"fields":  map[string]any{"service": map[string]any{"name": unresolved}}})
			Expect(snapshot(ctx)).To(Equal(before))
		})

		suite.It("K-ADM-2", "grpc routes: no methods, no strip_path (false by default), and a host, header, path or SNI to match on", func(ctx SpecContext) {
			before := snapshot(ctx)
			grpcs := "must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'"
			expectKongError(postJSON(ctx, http.MethodPost, "/routes", map[string]any{"protocols": []string{"grpc", "grpcs"}}), http.StatusBadRequest, map[string]any{
				"code": 2.0, "name": "schema violation", "message": "schema violation (" + grpcs + ")", "fields": map[string]any{"@entity": []any{grpcs}}})
			for field, value := range map[string]any{"strip_path": true, "methods": []string{"GET"}} {
				msg := "cannot set '" + field + "' when 'protocols' is 'grpc' or 'grpcs'"
				expectKongError(postJSON(ctx, http.MethodPost, "/routes", map[string]any{"protocols": []string{"grpc", "grpcs"}, "paths": []string{"/"}, field: value}),
					http.StatusBadRequest, map[string]any{"code": 2.0, "name": "schema violation", "message": "schema violation (" + field + ": " + msg + ")",
						"fields": map[string]any{field: msg}})
			}
			Expect(snapshot(ctx)).To(Equal(before))
			r := postJSON(ctx, http.MethodPost, "/routes", map[string]any{"protocols": []string{"grpc", "grpcs"}, "paths": []string{"/"}})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("strip_path", false))
		})

		suite.It("K-ADM-3", "routes take wildcard SNIs (*.example.test, example.*); a second wildcard is refused at its position", func(ctx SpecContext) {
			r := postJSON(ctx, http.MethodPost, "/routes", map[string]any{"protocols": []string{"https"}, "snis": []string{"*.example.test", "example.*"}})
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()["snis"]).To(Equal([]any{"*.example.test", "example.*"}))
			rejects(ctx, http.MethodPost, "/routes", map[string]any{"protocols": []string{"https"}, "snis": []string{"ok.example.test", "*.*.test"}},
				http.StatusBadRequest, "snis", Equal([]any{nil, "only one wildcard must be specified"}))
		})
	})
})

var _ = Describe("DB-less Admin API as Kong's 15-off_spec describes it", func() {
	// Each spec starts its own DB-less gateway; Admit (the suite's first BeforeEach) has already
	// skipped the specs a target does not claim.
	var s *harness.KongSystem
	BeforeEach(func(ctx SpecContext) { s = startKong(ctx, "database = off") })
	send := func(ctx context.Context, method, path, contentType, body string) response {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		return do(ctx, http.DefaultClient, method, s.AdminURL+path, h, strings.NewReader(body))
	}
	unsupported := func(msg string) map[string]any {
		return map[string]any{"code": 12.0, "name": "operation unsupported", "message": msg}
	}

	suite.It("K-ADM-4", "writes → 405 'operation unsupported' (12) naming the DAO operation; methods an endpoint lacks → 'Method not allowed'", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		id := "6a7f1c52-3b2d-4c8e-8f1a-2d9e0b4c5a61"
		body := `{"paths":["/"],"service":{"id":"` + id + `"}}`
		expectKongError(send(ctx, http.MethodPost, "/routes", "application/json", body), http.StatusMethodNotAllowed,
			unsupported("cannot create 'routes' entities when not using a database"))
		expectKongError(send(ctx, http.MethodPost, "/routes", "application/x-www-form-urlencoded", "hosts[]=my.route.test&protocols[]=http"), http.StatusMethodNotAllowed,
			unsupported("cannot create 'routes' entities when not using a database"))
		for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch} {
			expectKongError(send(ctx, m, "/routes", "application/json", body), http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		}
		expectKongError(send(ctx, http.MethodPut, "/routes/"+id, "application/json", body), http.StatusMethodNotAllowed,
			unsupported("cannot create or update 'routes' entities when not using a database"))
		expectKongError(send(ctx, http.MethodPatch, "/routes/"+id, "application/json", body), http.StatusMethodNotAllowed,
			unsupported("cannot update 'routes' entities when not using a database"))
		expectKongError(send(ctx, http.MethodDelete, "/routes/"+id, "", ""), http.StatusMethodNotAllowed,
			unsupported("cannot remove 'routes' entities when not using a database"))
		expectKongError(send(ctx, http.MethodPatch, "/routes/myroute", "application/json", body), http.StatusMethodNotAllowed,
			unsupported("cannot update 'routes' entities by 'name' when not using a database"))
		expectKongError(send(ctx, http.MethodPost, "/routes/"+id, "application/json", body), http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		expectKongError(send(ctx, http.MethodPost, "/services/echo/routes", "application/json", body), http.StatusMethodNotAllowed,
			unsupported("cannot create 'routes' entities when not using a database"))
	})

	suite.It("K-ADM-4", "POST /config takes the document as a JSON body, a YAML body, a JSON or YAML string under 'config', or a form field; nothing → 400", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		consumers := func() []any {
			r := send(ctx, http.MethodGet, "/consumers", "", "")
			return r.JSON()["data"].([]any)
		}
		jsonString := func(v string) string { return string(must(json.Marshal(v))) }
		for i, req := range []struct{ contentType, body string }{
			{"application/json", `{"_format_version":"1.1","consumers":[{"username":"bobby_in_json_body"}]}`},
			{"application/yaml", "_format_version: \"1.1\"\nconsumers:\n  - username: bobby_in_yaml_body\n"},
			{"application/json", `{"config":` + jsonString(`{"_format_version":"1.1","consumers":[{"username":"bobby_in_json_under_config"}]}`) + `}`},
			{"application/json", `{"config":` + jsonString("_format_version: \"1.1\"\nconsumers:\n  - username: bobby_in_yaml_under_config\n") + `}`},
			{"application/x-www-form-urlencoded", url.Values{"config": {"_format_version: \"1.1\"\nconsumers:\n  - username: bobby_in_form\n"}}.Encode()},
			{"application/json", `{"config":` + jsonString("_format_version: \"1.1\"\nroutes:\n- paths:\n  - \"/\"\n  service: null\n") + `}`},
		} {
			r := send(ctx, http.MethodPost, "/config", req.contentType, req.body)
			Expect(r.Status).To(Equal(http.StatusCreated), "request %d: %s", i, r.Body)
			if i < 5 {
				Expect(consumers()).To(ConsistOf(HaveKeyWithValue("username", ContainSubstring("bobby"))), "request %d", i)
			}
		}
		expectKongError(send(ctx, http.MethodPost, "/config", "", ""), http.StatusBadRequest, map[string]any{"message": "expected a declarative configuration"})
	})

	suite.It("K-ADM-4", "POST /config answers 201 with every entity keyed by id; check_hash=1 answers 304 for the document already loaded; GET /config gives it back as YAML", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		doc := `{"_format_version":"1.1","consumers":[{"username":"bobo","id":"d885e256-1abe-5e24-80b6-8f68fe59ea8e","created_at":1566863706}]}`
		r := send(ctx, http.MethodPost, "/config?check_hash=1", "application/json", `{"config":`+string(must(json.Marshal(doc)))+`}`)
		Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("consumers", HaveKeyWithValue("d885e256-1abe-5e24-80b6-8f68fe59ea8e", HaveKeyWithValue("username", "bobo"))))
		r = send(ctx, http.MethodPost, "/config?check_hash=1", "application/json", `{"config":`+string(must(json.Marshal(doc)))+`}`)
		Expect(r.Status).To(Equal(http.StatusNotModified))
		Expect(r.Body).To(BeEmpty())

		r = send(ctx, http.MethodGet, "/config", "", "")
		Expect(r.Status).To(Equal(http.StatusOK))
		cfg, ok := r.JSON()["config"].(string)
		Expect(ok).To(BeTrue(), string(r.Body))
		Expect(cfg).To(And(ContainSubstring(`_format_version: "3.0"`), ContainSubstring("_transform: false"),
			ContainSubstring("d885e256-1abe-5e24-80b6-8f68fe59ea8e"), ContainSubstring("created_at: 1566863706"), ContainSubstring("custom_id: null")))
	})

	suite.It("K-ADM-4", "POST /config keeps the ids of a certificate's SNIs, nested or listed apart, and relates them to it", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		cert, key := keyPair(fixtures.SNIAPI)
		const certID, sniID = "d83994d2-c24c-4315-b431-ee76b6611dcb", "1c6e83b7-c9ad-40ac-94e8-52f5ee7bde44"
		sni := map[string]any{"name": "foo.example", "id": sniID}
		for _, doc := range []map[string]any{
			{"_format_version": "1.1", "certificates": []any{map[string]any{"id": certID, "cert": cert, "key": key, "snis": []any{sni}}}},
			{"_format_version": "1.1", "certificates": []any{map[string]any{"id": certID, "cert": cert, "key": key}},
				"snis": []any{map[string]any{"name": "foo.example", "id": sniID, "certificate": map[string]any{"id": certID}}}},
		} {
			r := send(ctx, http.MethodPost, "/config", "application/json", string(must(json.Marshal(doc))))
			Expect(r.Status).To(Equal(http.StatusCreated), string(r.Body))
			Expect(r.JSON()).To(And(HaveKeyWithValue("certificates", HaveKey(certID)),
				HaveKeyWithValue("snis", HaveKeyWithValue(sniID, HaveKeyWithValue("certificate", HaveKeyWithValue("id", certID))))))
		}
	})

	suite.It("K-ADM-4", "POST /config errors: invalid declarative configuration (14) with fields by position, Lua-printed in the message, flattened only on request", conformance.Requires(catalog.KongConf), func(ctx SpecContext) {
		asConfig := func(yaml string) string { return `{"config":` + string(must(json.Marshal(yaml))) + `}` }
		expectKongError(send(ctx, http.MethodPost, "/config", "application/json", `{"config":"bobby tables"}`), http.StatusBadRequest, map[string]any{
			"code": 14.0, "name": "invalid declarative configuration",
			"message": `declarative config is invalid: {error="failed parsing declarative configuration: expected an object"}`,
			"fields":  map[string]any{"error": "failed parsing declarative configuration: expected an object"}})

		expectKongError(send(ctx, http.MethodPost, "/config", "application/json", asConfig("_format_version: \"1.1\"\nservices:\n- port: -12\n")), http.StatusBadRequest, map[string]any{
			"code": 14.0, "name": "invalid declarative configuration",
			"message": `declarative config is invalid: {services={{host="required field missing",port="value should be between 0 and 65535"}}}`,
			"fields":  map[string]any{"services": []any{map[string]any{"host": "required field missing", "port": "value should be between 0 and 65535"}}}})

		dup := "_format_version: \"1.1\"\nservices:\n- id: 0855b320-0dd2-547d-891d-601e9b38647f\n  name: foo\n  host: example.com\n" +
			"- id: 0855b320-0dd2-547d-891d-601e9b38647f\n  name: bar\n  host: example.test\n"
		msg := "uniqueness violation: 'services' entity with primary key set to '0855b320-0dd2-547d-891d-601e9b38647f' already declared"
		expectKongError(send(ctx, http.MethodPost, "/config", "application/json", asConfig(dup)), http.StatusBadRequest, map[string]any{
			"code": 14.0, "name": "invalid declarative configuration",
			"message": `declarative config is invalid: {services={[2]="` + msg + `"}}`,
			"fields":  map[string]any{"services": []any{nil, msg}}})

		r := send(ctx, http.MethodPost, "/config?flatten_errors=1", "application/json", asConfig("_format_version: \"1.1\"\nservices:\n- port: -12\n"))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(HaveKeyWithValue("flattened_errors", ContainElement(HaveKeyWithValue("entity_type", "services"))))
	})
})
