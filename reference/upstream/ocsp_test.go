package upstream_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// TestOCSPFromDir: a responder built from a written PKI answers good for a valid client and
// revoked for what crl.pem revokes, by POST and by GET, and its modes spoil the answer as named.
func TestOCSPFromDir(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{OCSPBaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Get(fixtures.Client).Cert.OCSPServer; len(got) != 1 || got[0] != "http://127.0.0.1:1/ocsp/ca" {
		t.Fatalf("client AIA OCSP = %v, want http://127.0.0.1:1/ocsp/ca", got)
	}
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	o, err := upstream.OCSPFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := upstream.Start(context.Background(), upstream.Config{HTTPAddr: "127.0.0.1:0", Name: "echo", OCSP: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	issuer := p.Get(fixtures.RootCA).Cert
	ask := func(identity string, get bool) (*ocsp.Response, error) {
		t.Helper()
		leaf := p.Get(identity).Cert
		req, err := ocsp.CreateRequest(leaf, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		var resp *http.Response
		if get {
			resp, err = http.Get(s.HTTPURL() + "/ocsp/ca/" + base64.StdEncoding.EncodeToString(req))
		} else {
			resp, err = http.Post(s.HTTPURL()+"/ocsp/ca", "application/ocsp-request", bytes.NewReader(req))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return ocsp.ParseResponseForCert(b, leaf, issuer)
	}
	for _, get := range []bool{false, true} {
		for identity, want := range map[string]int{fixtures.Client: ocsp.Good, fixtures.ClientRevoked: ocsp.Revoked} {
			r, err := ask(identity, get)
			if err != nil || r.Status != want {
				t.Errorf("GET=%v %s: status %v, %v; want %d", get, identity, r, err, want)
			}
		}
	}
	if n := o.Hits("ca"); n != 4 {
		t.Errorf("hits = %d, want 4", n)
	}
	for mode, check := range map[upstream.OCSPMode]func(*ocsp.Response, error) bool{
		upstream.OCSPUnknown:     func(r *ocsp.Response, err error) bool { return err == nil && r.Status == ocsp.Unknown },
		upstream.OCSPGarbage:     func(_ *ocsp.Response, err error) bool { return err != nil },
		upstream.OCSPMissigned:   func(_ *ocsp.Response, err error) bool { return err != nil },
		upstream.OCSPOtherSerial: func(_ *ocsp.Response, err error) bool { return err != nil },
		upstream.OCSPStale:       func(r *ocsp.Response, err error) bool { return err == nil && r.NextUpdate.Before(time.Now()) },
	} {
		if err := o.SetMode(mode, 0); err != nil {
			t.Fatal(err)
		}
		if r, err := ask(fixtures.Client, false); !check(r, err) {
			t.Errorf("mode %s: got %+v, %v", mode, r, err)
		}
	}
	if err := o.SetMode("sometimes", 0); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
