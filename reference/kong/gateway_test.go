package kong

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// TestAdminChangesUnderTraffic changes the configuration while requests flow: with -race it
// shows the runtime swap is safe, and every answer must be one of the two valid outcomes.
func TestAdminChangesUnderTraffic(t *testing.T) {
	ctx := context.Background()
	p, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	echo, err := upstream.Start(ctx, upstream.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close(ctx)
	conf, err := kongconf.Parse(strings.NewReader("proxy_listen = 127.0.0.1:0 ssl\nadmin_listen = 127.0.0.1:0\nstatus_listen = off\n"), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	admin := g.URL("admin", false)
	post := func(path string, v url.Values) string {
		resp, err := http.PostForm(admin+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post("/services", url.Values{"name": {"echo"}, "url": {echo.HTTPURL() + "/anything"}})
	post("/services/echo/routes", url.Values{"paths[]": {"/r"}})
	post("/consumers", url.Values{"username": {fixtures.ClientCommonName}})
	ca := post("/ca_certificates", url.Values{"cert": {string(p.Get(fixtures.RootCA).CertPEM())}})
	caID := ca[strings.Index(ca, `"id":"`)+6:]
	caID = caID[:strings.IndexByte(caID, '"')]

	cert := p.Get(fixtures.Client).TLSCertificate()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}}} //nolint:gosec // test client
	var wg sync.WaitGroup
	var ok, unauthorized, other atomic.Int64
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.URL("proxy", true) + "/r")
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 401:
					unauthorized.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	for i := range 20 {
		body := post("/plugins", url.Values{"name": {MTLSAuthName}, "config.ca_certificates": {caID}})
		id := body[strings.Index(body, `"id":"`)+6:]
		id = id[:strings.IndexByte(id, '"')]
		req, _ := http.NewRequest(http.MethodDelete, admin+"/plugins/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete plugin %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	close(stop)
	wg.Wait()
	if other.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("answers: %d ok, %d unauthorized, %d other", ok.Load(), unauthorized.Load(), other.Load())
	}
	t.Logf("under 40 Admin API changes: %d ok, %d 401", ok.Load(), unauthorized.Load())
}
