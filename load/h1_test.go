package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/fixtures"
)

// startOneShot serves one answer per TLS connection and then closes it, saying so in the answer
// (Connection: close) or not: a gateway that drops a kept-alive connection between requests.
func startOneShot(t *testing.T, conf *tls.Config, sayClose bool) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	answer := "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n"
	if sayClose {
		answer += "Connection: close\r\n"
	}
	answer += "\r\n{\"ok\":true}"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = c.Write([]byte(answer))
			}()
		}
	}()
	return "https://" + ln.Addr().(*net.TCPAddr).String() + "/"
}

// TestKeepAliveSurvivesDroppedConnections: the HTTP/1.1 client reuses a kept-alive connection
// only while the gateway keeps it, and sends a request again on a new connection when a reused
// one turns out closed before any of the answer arrived, as net/http does; a gateway that says
// Connection: close never gets a request on a connection it closed.
func TestKeepAliveSurvivesDroppedConnections(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	server := p.Get(fixtures.Server).TLSCertificate()
	classes := []Class{{Name: "valid", Weight: 1, Certificate: cert(p, fixtures.Client), Expect: Outcome{Status: 200, BodyContains: `"ok"`}}}
	for _, sayClose := range []bool{false, true} {
		target := startOneShot(t, &tls.Config{Certificates: []tls.Certificate{server}}, sayClose)
		plan := Plan{Target: target, Classes: classes, Mode: KeepAlive, Pacer: Pacer{Kind: Constant, Rate: 40},
			Duration: time.Second, MaxRequests: 20, Timeout: 10 * time.Second}
		r, err := Run(context.Background(), plan)
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests != 20 || r.Violations != 0 {
			t.Errorf("Connection: close %t: %d violations in %d requests: %+v", sayClose, r.Violations, r.Requests, r.ViolationSamples)
		}
		// Every connection carries one answer, so 20 answers took 20 handshakes.
		if r.Handshakes != 20 {
			t.Errorf("Connection: close %t: %d handshakes for 20 requests", sayClose, r.Handshakes)
		}
	}
}

// TestKeepAliveReusesConnections: against a gateway that keeps connections, requests at a low
// rate all go over one connection.
func TestKeepAliveReusesConnections(t *testing.T) {
	p, err := fixtures.Generate(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	server := p.Get(fixtures.Server).TLSCertificate()
	var conns atomic.Int64
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }),
		ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	classes := []Class{{Name: "valid", Weight: 1, Certificate: cert(p, fixtures.Client), Expect: Outcome{Status: 200, BodyContains: `"ok"`}}}
	// One request at a time: each answer is read to its end long before the next one starts.
	plan := Plan{Target: "https://" + ln.Addr().String() + "/", Classes: classes, Mode: KeepAlive, Pacer: Pacer{Kind: Constant, Rate: 20},
		Duration: time.Second, MaxRequests: 10, Timeout: 10 * time.Second, MaxWorkers: 1}
	r, err := Run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 10 || r.Violations != 0 || r.Handshakes != 1 || conns.Load() != 1 {
		t.Errorf("%d requests, %d violations, %d handshakes, %d connections; want 10, 0, 1, 1", r.Requests, r.Violations, r.Handshakes, conns.Load())
	}
}
