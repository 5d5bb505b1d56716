package kong

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// Fuzz targets for the gateway (issue 13): the Admin API's decoders and handlers, the proxy
// handler on raw requests, the route matcher, and CRL parsing. Seeds live in
// testdata/fuzz/<target>; `make fuzz` runs each for FUZZTIME.

// fuzzGateway is a gateway with default settings whose Admin API and proxy handler are called
// directly, and an echo upstream; it is shared by every input of a fuzz run.
func fuzzGateway(f *testing.F) (*Gateway, string) {
	f.Helper()
	conf, err := kongconf.Parse(strings.NewReader("proxy_listen = off\nadmin_listen = off\nstatus_listen = off\n"), "fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	g, err := New(Options{Config: conf})
	if err != nil {
		f.Fatal(err)
	}
	echo := httptest.NewServer(upstream.NewEcho(upstream.EchoOptions{}))
	f.Cleanup(echo.Close)
	return g, echo.URL
}

// adminCall sends one Admin API call straight to the handler, as the server would hand it over.
func (g *Gateway) adminCall(method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil // the server refuses the request line before any handler
	}
	w := httptest.NewRecorder()
	req := (&http.Request{
		Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Host: "127.0.0.1:8001", RemoteAddr: "127.0.0.1:40000",
	}).WithContext(context.Background())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	g.api.ServeHTTP(w, req)
	return w
}

// isToken reports whether s is an HTTP token, as a request method must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// FuzzAdminAPI sends arbitrary calls to the Admin API. Invariants: never a 5xx, a rejected call
// changes nothing, and every answer but 204 has a body.
func FuzzAdminAPI(f *testing.F) {
	g, echo := fuzzGateway(f)
	for _, s := range []struct{ method, target, ct, body string }{
		{"POST", "/services", "application/json", `{"name":"s","url":"` + echo + `"}`},
		{"POST", "/routes", "application/x-www-form-urlencoded", "paths[]=/a&service.name=s"},
		{"POST", "/plugins", "application/json", `{"name":"` + ACLName + `","config":null}`},
		{"POST", "/plugins", "application/json", `{"name":"` + MTLSAuthName + `","config":{"ca_certificates":["x"],"http_timeout":1e300}}`},
		{"PATCH", "/services/s", "application/x-www-form-urlencoded", "read_timeout=NaN"},
		{"POST", "/consumers", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nu\r\n--b--\r\n"},
		{"PUT", "/consumers/u/acls/x", "application/json", `{"group":"g","tags":["a","a"]}`},
		{"DELETE", "/services/s", "", ""},
		{"GET", "/plugins?tags=a,b", "", ""},
		{"POST", "/config", "application/json", `{"_format_version":"3.0"}`},
	} {
		f.Add(s.method, s.target, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00") || !isToken(method) {
			return
		}
		before := g.db.Snapshot().Version()
		w := g.adminCall(method, target, contentType, body)
		if w == nil {
			return
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s (%s) %q → %d %s", method, target, contentType, body, w.Code, w.Body.Bytes())
		}
		if w.Code >= 400 && g.db.Snapshot().Version() != before {
			t.Fatalf("%s %s → %d changed the configuration", method, target, w.Code)
		}
		if w.Code != http.StatusNoContent && method != http.MethodHead && w.Body.Len() == 0 {
			t.Fatalf("%s %s → %d with an empty body", method, target, w.Code)
		}
	})
}

// FuzzProxyRawRequest parses arbitrary bytes as an HTTP/1.1 request and hands what parses to
// the proxy handler, with one route to an echo. Invariants: no panic and no 500 (the handler
// turns a panic into one).
func FuzzProxyRawRequest(f *testing.F) {
	g, echo := fuzzGateway(f)
	for _, c := range []struct{ method, target, body string }{
		{"POST", "/services", `{"name":"echo","url":"` + echo + `/anything"}`},
		{"POST", "/services/echo/routes", `{"paths":["/echo","~/r/\\d+$"],"hosts":["*.example.test","example.test"]}`},
	} {
		if w := g.adminCall(c.method, c.target, "application/json", []byte(c.body)); w.Code != http.StatusCreated {
			f.Fatalf("%s %s: %d %s", c.method, c.target, w.Code, w.Body.Bytes())
		}
	}
	for _, s := range []string{
		"GET /echo HTTP/1.1\r\nHost: a.example.test\r\n\r\n",
		"POST /echo/x?y=1 HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"TRACE /r/12 HTTP/1.1\r\nHost: example.test\r\nX_Consumer_ID: spoof\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nhello",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:40000"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req = req.WithContext(ctx)
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					t.Fatalf("panic: %v", v)
				}
			}()
			g.serveProxy(w, req)
		}()
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%q → 500 %s", raw, w.Body.Bytes())
		}
	})
}

// FuzzRouteMatcher creates routes with arbitrary paths and hosts (regex paths included) and
// sends a request through them. Invariants: a route the Admin API accepts compiles, and
// matching never panics nor answers 500.
func FuzzRouteMatcher(f *testing.F) {
	g, echo := fuzzGateway(f)
	if w := g.adminCall("POST", "/services", "application/json", []byte(`{"name":"echo","url":"`+echo+`"}`)); w.Code != http.StatusCreated {
		f.Fatalf("service: %d %s", w.Code, w.Body.Bytes())
	}
	for _, s := range [][3]string{
		{"/a", "example.test", "/a/b"},
		{`~/users/(?<id>\d+)$`, "*.example.test", "/users/42"},
		{"~/(a+)+$", "example.*", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"},
		{"/", "[::1]:8000", "/%2e%2e/x"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, path, host, reqPath string) {
		body, _ := json.Marshal(map[string]any{"paths": []string{path}, "hosts": []string{host}, "service": map[string]string{"name": "echo"}})
		w := g.adminCall("POST", "/routes", "application/json", body)
		if w.Code >= 500 {
			t.Fatalf("route %q %q → %d %s", path, host, w.Code, w.Body.Bytes())
		}
		if w.Code != http.StatusCreated {
			return
		}
		var created struct{ ID string }
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.ID == "" {
			t.Fatalf("201 without an id: %s", w.Body.Bytes())
		}
		defer g.adminCall("DELETE", "/routes/"+created.ID, "", nil)
		if !strings.HasPrefix(reqPath, "/") || strings.ContainsAny(reqPath, " \r\n\x00#?") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8000/", nil)
		req.URL.Path, req.Host = reqPath, host
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		g.serveProxy(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("route %q %q, request %q → 500 %s", path, host, reqPath, rec.Body.Bytes())
		}
	})
}

// FuzzCRLDownload hands arbitrary bytes to the revocation checker as a CRL download (through an
// in-memory transport, so every input is quick). Invariant: a parse failure is an error, never a
// panic.
func FuzzCRLDownload(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(b)), Request: r, Header: http.Header{}}, nil
		})}
		c := newRevocationChecker(client, client, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		crl, err := c.download(ctx, client, "http://crl.test/ca.crl")
		if err == nil && crl == nil {
			t.Fatal("no CRL and no error")
		}
	})
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
