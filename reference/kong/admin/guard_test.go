package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// serve sends one request to api and returns its status, headers and body.
func serve(t *testing.T, api *admin.API, method, target, contentType, body string, header http.Header) (int, http.Header, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

func newTestAPI(t *testing.T, opts admin.APIOptions) (*admin.API, *admin.DB) {
	t.Helper()
	db, err := admin.New(admin.Options{Plugins: kong.PluginSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	return admin.NewAPI(db, opts), db
}

func consumers(db *admin.DB) int { return len(db.Snapshot().List("consumers")) }

// TestK_ADM_5_BrowsersCannotReachTheAdminAPI: K-ADM-5, mtlsgate's browser rules.
func TestK_ADM_5_BrowsersCannotReachTheAdminAPI(t *testing.T) {
	api, db := newTestAPI(t, admin.APIOptions{})
	form := url.Values{"username": {"x"}}.Encode()
	const formType = "application/x-www-form-urlencoded"

	// No wildcard CORS unless admin_gui_url asks for an origin.
	if _, h, _ := serve(t, api, http.MethodGet, "http://127.0.0.1:8001/", "", "", nil); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("Access-Control-Allow-Origin %q without admin_gui_url", h.Get("Access-Control-Allow-Origin"))
	}
	// A cross-origin form post, as a page on another site sends it, is refused and changes nothing.
	for name, h := range map[string]http.Header{
		"Origin":         {"Origin": {"http://evil.example"}},
		"null Origin":    {"Origin": {"null"}},
		"Sec-Fetch-Site": {"Sec-Fetch-Site": {"cross-site"}},
	} {
		status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/consumers", formType, form, h)
		if status != http.StatusForbidden || !strings.Contains(body, "cross-") || consumers(db) != 0 {
			t.Errorf("%s: %d %s (consumers %d)", name, status, body, consumers(db))
		}
	}
	// DNS rebinding: a name that is not the Admin API's own is refused, even for reads.
	for _, host := range []string{"evil.example", "evil.example:8001", "rebind.127.0.0.1.nip.io"} {
		status, _, body := serve(t, api, http.MethodGet, "http://"+host+"/consumers", "", "", nil)
		if status != http.StatusForbidden || !strings.Contains(body, "DNS rebinding") {
			t.Errorf("Host %s: %d %s", host, status, body)
		}
	}
	// curl's form posts carry neither Origin nor Sec-Fetch-Site: they work, on every local name.
	for _, host := range []string{"127.0.0.1:8001", "localhost:8001", "[::1]:8001", "admin.localhost", "10.1.2.3:8001"} {
		status, _, body := serve(t, api, http.MethodPost, "http://"+host+"/consumers", formType, url.Values{"username": {host}}.Encode(), nil)
		if status != http.StatusCreated {
			t.Errorf("curl-style post via %s: %d %s", host, status, body)
		}
	}
	// A same-origin page (the Admin API's own address) may post.
	if status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/consumers", formType, url.Values{"username": {"same"}}.Encode(),
		http.Header{"Origin": {"http://127.0.0.1:8001"}, "Sec-Fetch-Site": {"same-origin"}}); status != http.StatusCreated {
		t.Errorf("same-origin post: %d %s", status, body)
	}

	// admin_gui_url grants its origin (and its host) and no other.
	gui, gdb := newTestAPI(t, admin.APIOptions{GUIURL: "http://admin.api:9100/path"})
	status, h, body := serve(t, gui, http.MethodPost, "http://admin.api:8001/consumers", formType, form, http.Header{"Origin": {"http://admin.api:9100"}})
	if status != http.StatusCreated || h.Get("Access-Control-Allow-Origin") != "http://admin.api:9100" {
		t.Errorf("admin_gui_url origin: %d %q %s", status, h.Get("Access-Control-Allow-Origin"), body)
	}
	if status, _, _ := serve(t, gui, http.MethodPost, "http://admin.api:8001/consumers", formType, form, http.Header{"Origin": {"http://other:9100"}}); status != http.StatusForbidden || consumers(gdb) != 1 {
		t.Errorf("another origin with admin_gui_url set: %d", status)
	}
	// Preflight as Kong answers it.
	status, h, _ = serve(t, gui, http.MethodOptions, "http://127.0.0.1:8001/routes/test", "", "", http.Header{"Access-Control-Request-Headers": {"X-Header-1"}})
	if status != http.StatusNoContent || h.Get("Allow") != "DELETE, GET, HEAD, OPTIONS, PATCH, PUT" || h.Get("Access-Control-Allow-Headers") != "X-Header-1" {
		t.Errorf("preflight: %d %v", status, h)
	}
}

// TestK_ADM_5_AdminToken: K-ADM-5, with a token configured every request needs it.
func TestK_ADM_5_AdminToken(t *testing.T) {
	api, db := newTestAPI(t, admin.APIOptions{Token: "s3cret"})
	for _, tok := range []string{"", "wrong", "s3cre"} {
		h := http.Header{}
		if tok != "" {
			h.Set(admin.TokenHeader, tok)
		}
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			status, _, body := serve(t, api, m, "http://127.0.0.1:8001/consumers", "application/json", `{"username":"x"}`, h)
			if status != http.StatusUnauthorized || !strings.Contains(body, "Invalid credentials") || consumers(db) != 0 {
				t.Errorf("%s with token %q: %d %s", m, tok, status, body)
			}
		}
	}
	status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/consumers", "application/json", `{"username":"x"}`, http.Header{admin.TokenHeader: {"s3cret"}})
	if status != http.StatusCreated {
		t.Errorf("with the token: %d %s", status, body)
	}
}

// TestK_ADM_6_NumbersAreBounded: K-ADM-6, no number a plugin or entity field takes can switch
// a check off, overflow a duration, or break the JSON of later answers.
func TestK_ADM_6_NumbersAreBounded(t *testing.T) {
	api, db := newTestAPI(t, admin.APIOptions{})
	mtls := func(field, value string) (int, string) {
		s, _, b := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/plugins", "application/x-www-form-urlencoded",
			url.Values{"name": {kong.MTLSAuthName}, "config.ca_certificates": {"3f1d3a4e-0e6f-4b8e-9a51-5c1f1d2b7c11"}, "config." + field: {value}}.Encode(), nil)
		return s, b
	}
	for _, c := range []struct{ field, value, want string }{
		{"http_timeout", "10000000000000", "value should be between 1 and 2147483646"},
		{"http_timeout", "0", "value should be between 1 and 2147483646"},
		{"http_timeout", "-1", "value should be between 1 and 2147483646"},
		{"http_timeout", "1e300", "value should be between 1 and 2147483646"},
		{"http_timeout", "NaN", "expected a number"},
		{"http_timeout", "Inf", "expected a number"},
		{"cache_ttl", "NaN", "expected a number"},
		{"cache_ttl", "-Inf", "expected a number"},
		{"cache_ttl", "-1", "value should be between 0 and 100000000"},
		{"cert_cache_ttl", "1e18", "value should be between 0 and 100000000"},
		{"http_proxy_port", "70000", "value should be between 0 and 65535"},
	} {
		status, body := mtls(c.field, c.value)
		var e map[string]any
		_ = json.Unmarshal([]byte(body), &e)
		fields, _ := e["fields"].(map[string]any)
		cfg, _ := fields["config"].(map[string]any)
		if status != http.StatusBadRequest || cfg[c.field] != c.want {
			t.Errorf("config.%s=%s: %d %s, want config.%s %q", c.field, c.value, status, body, c.field, c.want)
		}
	}
	for _, v := range []string{"Inf", "NaN", "1e300", "1e16"} {
		status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/routes", "application/x-www-form-urlencoded",
			url.Values{"paths[]": {"/x"}, "regex_priority": {v}}.Encode(), nil)
		if status != http.StatusBadRequest || !strings.Contains(body, "regex_priority") {
			t.Errorf("regex_priority=%s: %d %s", v, status, body)
		}
	}
	status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/routes", "application/json", `{"paths":["/x"],"regex_priority":9007199254740992}`, nil)
	if status != http.StatusCreated || !strings.Contains(body, `"regex_priority":9007199254740992`) {
		t.Errorf("2^53 is Kong's max safe integer and is kept exactly: %d %s", status, body)
	}
	if n := len(db.Snapshot().List("plugins")); n != 0 {
		t.Errorf("%d plugins stored by rejected calls", n)
	}
	// Every answer has a body, even the list of everything stored.
	if status, _, body := serve(t, api, http.MethodGet, "http://127.0.0.1:8001/plugins", "", "", nil); status != http.StatusOK || body == "" {
		t.Errorf("GET /plugins: %d %q", status, body)
	}
}

// TestK_ADM_6_NullConfigIsValidated: K-ADM-6, "config": null is validated as an empty config.
func TestK_ADM_6_NullConfigIsValidated(t *testing.T) {
	api, db := newTestAPI(t, admin.APIOptions{})
	for _, c := range []struct{ body, want string }{
		{`{"name":"` + kong.ACLName + `","config":null}`, `"@entity":["at least one of these fields must be non-empty: 'config.allow', 'config.deny'"]`},
		{`{"name":"` + kong.MTLSAuthName + `","config":null}`, `"config":{"ca_certificates":"required field missing"}`},
	} {
		status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/plugins", "application/json", c.body, nil)
		if status != http.StatusBadRequest || !strings.Contains(body, `"code":2`) || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.body, status, body)
		}
	}
	status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/plugins", "application/json", `{"name":"`+kong.ACLName+`","config":{"allow":["a"]}}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("acl: %d %s", status, body)
	}
	var p map[string]any
	_ = json.Unmarshal([]byte(body), &p)
	status, _, body = serve(t, api, http.MethodPatch, "http://127.0.0.1:8001/plugins/"+p["id"].(string), "application/json", `{"config":null}`, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "config: required field missing") {
		t.Errorf("PATCH config null: %d %s", status, body)
	}
	if cfg := db.Snapshot().List("plugins")[0]["config"]; cfg == nil {
		t.Error("a rejected PATCH cleared the config")
	}
}

// TestK_ADM_6_ArraysAreBoundedAndDeduplicatedLinearly: K-ADM-6, a set is de-duplicated in one
// pass and an array longer than the bound is refused before any element is looked at twice.
func TestK_ADM_6_ArraysAreBoundedAndDeduplicatedLinearly(t *testing.T) {
	api, _ := newTestAPI(t, admin.APIOptions{})
	tags := make([]string, admin.MaxElements)
	for i := range tags {
		tags[i] = "t" + string(rune('a'+i%26))
	}
	b, _ := json.Marshal(map[string]any{"username": "u", "tags": tags})
	status, _, body := serve(t, api, http.MethodPost, "http://127.0.0.1:8001/consumers", "application/json", string(b), nil)
	var c map[string]any
	_ = json.Unmarshal([]byte(body), &c)
	if kept, _ := c["tags"].([]any); status != http.StatusCreated || len(kept) != 26 {
		t.Errorf("%d tags with 26 distinct: %d, %d kept", admin.MaxElements, status, len(kept))
	}
	b, _ = json.Marshal(map[string]any{"username": "v", "tags": append(tags, "one-too-many")})
	status, _, body = serve(t, api, http.MethodPost, "http://127.0.0.1:8001/consumers", "application/json", string(b), nil)
	if status != http.StatusBadRequest || !strings.Contains(body, `"tags":"length must be at most 10000"`) {
		t.Errorf("%d tags: %d %s", admin.MaxElements+1, status, body)
	}
}
