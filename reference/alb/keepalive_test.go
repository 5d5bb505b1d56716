package alb_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// TestClientKeepAlive: past client_keep_alive.seconds the next response is the connection's last
// (Connection: close over HTTP/1.1, GOAWAY over HTTP/2), so the client's next request needs a new
// connection; before it the connection is reused.
func TestClientKeepAlive(t *testing.T) {
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			e := newEnv(t)
			var skew atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			cfg := e.config(alb.ModeOff)
			cfg.LoadBalancerAttributes = []alb.Attribute{{Key: alb.AttrClientKeepAlive, Value: "60"}}
			a, err := alb.Start(t.Context(), cfg, alb.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close(context.Background()) })
			var p http.Protocols
			p.SetHTTP1(proto == "http/1.1")
			p.SetHTTP2(proto == "h2")
			var dials atomic.Int32
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}}, //nolint:gosec // test client
				Protocols: &p, ForceAttemptHTTP2: proto == "h2"}
			tr.DialContext = func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
				dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}
			t.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			get := func() *http.Response {
				t.Helper()
				resp, err := c.Get(a.URL(0) + "/anything")
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Proto != map[string]string{"http/1.1": "HTTP/1.1", "h2": "HTTP/2.0"}[proto] {
					t.Fatalf("spoke %s", resp.Proto)
				}
				return resp
			}
			if r := get(); r.Close || r.Header.Get("Connection") != "" {
				t.Fatalf("a young connection is closed: %v", r.Header)
			}
			get()
			if n := dials.Load(); n != 1 {
				t.Fatalf("%d dials before the keepalive duration, want 1", n)
			}
			skew.Store(int64(61 * time.Second))
			get() // the connection's last response
			get()
			if n := dials.Load(); n != 2 {
				t.Fatalf("%d dials after the keepalive duration, want 2 (the old connection closed)", n)
			}
		})
	}
}
