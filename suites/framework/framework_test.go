package framework

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDecodeEchoNeedsJSONNamingTheMethod(t *testing.T) {
	body := []byte(`{"method":"GET","url":"/anything"}`)
	if e := DecodeEcho(http.Header{"Content-Type": {"application/json"}}, body); e == nil || e.Method != "GET" {
		t.Errorf("an echo: got %+v", e)
	}
	if e := DecodeEcho(http.Header{"Content-Type": {"text/plain"}}, body); e != nil {
		t.Errorf("a text/plain body decoded as an echo: %+v", e)
	}
	if e := DecodeEcho(http.Header{"Content-Type": {"application/json; charset=utf-8"}}, []byte(`{"message":"TLS certificate failed verification"}`)); e != nil {
		t.Errorf("a gateway's JSON error decoded as an echo: %+v", e)
	}
}

func TestDoSetsHostNeverFollowsRedirectsAndReportsThePort(t *testing.T) {
	var host string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	var port string
	r, err := Get(WithClientPort(context.Background(), &port), NewClient(ClientOptions{}), srv.URL+"/x", "Host", "api.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/elsewhere" {
		t.Errorf("answer %d %q, want the redirect itself", r.Status, r.Header.Get("Location"))
	}
	if host != "api.example.test" {
		t.Errorf("the server saw Host %q, want api.example.test", host)
	}
	if port == "" || port == "0" {
		t.Errorf("client port %q, want the dialled socket's", port)
	}
	if r.TLS == nil {
		t.Error("no TLS state on an https answer")
	}
}

func TestNewClientPinsTheProtocol(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	for _, proto := range []string{HTTP1, HTTP2} {
		r, err := Get(context.Background(), NewClient(ClientOptions{Proto: proto}), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if r.Proto != proto {
			t.Errorf("pinned to %s, spoke %s", proto, r.Proto)
		}
	}
}
