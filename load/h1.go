package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// h1Transport is one class's HTTP/1.1 client when the plan does not ask for HTTP/2: the
// attacking worker's own goroutine dials, handshakes, writes the request and reads the answer.
// net/http's Transport hands every request to a connection's write and read goroutines (and,
// without keep-alive, dials in a goroutine of its own and starts both per connection), so each
// request costs several goroutine wake-ups; on a few shared cores those cost more CPU than the
// request itself, and the simulator exists to load a gateway, not itself (bench.md: the
// simulator's CPU per request and per full handshake).
//
// What it keeps of net/http's behaviour: the same TLS configuration (so handshakes are counted
// and classified alike), the request as net/http writes it for a GET without a body, answers
// parsed by http.ReadResponse (chunked or sized bodies, 1xx skipped), a kept-alive connection
// reused only when its answer was read to the end and the gateway did not close it, and one
// retry on a fresh connection when a reused one fails before any of the answer arrived (the
// gateway closed it while idle), as net/http retries an idempotent request.
type h1Transport struct {
	conf      *tls.Config
	dialer    *net.Dialer
	timeout   time.Duration
	keepAlive bool
	maxIdle   int

	mu     sync.Mutex
	idle   []*h1Conn
	closed bool
}

// h1Conn is one TLS connection with its read buffer and the request buffer it reuses.
type h1Conn struct {
	conn *tls.Conn
	br   *bufio.Reader
	req  []byte
}

// errRequestBody refuses a request the client cannot send: the simulator's requests are GETs.
var errRequestBody = errors.New("load: the HTTP/1.1 client sends no request body")

// RoundTrip sends req on a connection of the pool (or a new one) and returns its answer; the
// connection goes back to the pool when the body has been read to the end and closed.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
		return nil, errRequestBody
	}
	ctx := req.Context()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(t.timeout)
	}
	for attempt := 0; ; attempt++ {
		// The retry dials: another pooled connection may have been dropped by the same gateway.
		c, reused, err := t.conn(ctx, req, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(c, req, deadline)
		if err == nil {
			return resp, nil
		}
		c.conn.Close()
		var before beforeAnswer
		if reused && attempt == 0 && errors.As(err, &before) {
			continue
		}
		return nil, err
	}
}

// beforeAnswer marks a failure before any byte of the answer arrived, so a reused connection's
// request may be sent again on a new one.
type beforeAnswer struct{ err error }

func (e beforeAnswer) Error() string { return e.err.Error() }
func (e beforeAnswer) Unwrap() error { return e.err }

// conn takes the most recently used idle connection, unless fresh, or dials a new one.
func (t *h1Transport) conn(ctx context.Context, req *http.Request, fresh bool) (*h1Conn, bool, error) {
	if t.keepAlive && !fresh {
		t.mu.Lock()
		if n := len(t.idle); n > 0 {
			c := t.idle[n-1]
			t.idle[n-1] = nil
			t.idle = t.idle[:n-1]
			t.mu.Unlock()
			return c, true, nil
		}
		t.mu.Unlock()
	}
	raw, err := t.dialer.DialContext(ctx, "tcp", canonicalAddr(req))
	if err != nil {
		return nil, false, err
	}
	tc := tls.Client(raw, t.conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, false, err
	}
	return &h1Conn{conn: tc, br: bufio.NewReaderSize(tc, 4096)}, false, nil
}

// canonicalAddr is the URL's host:port, with https's port when it names none.
func canonicalAddr(req *http.Request) string {
	if req.URL.Port() != "" {
		return req.URL.Host
	}
	return net.JoinHostPort(req.URL.Hostname(), "443")
}

// exchange writes the request and reads the answer's head on c.
func (t *h1Transport) exchange(c *h1Conn, req *http.Request, deadline time.Time) (*http.Response, error) {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, beforeAnswer{err}
	}
	c.req = appendRequest(c.req[:0], req, !t.keepAlive)
	if _, err := c.conn.Write(c.req); err != nil {
		return nil, beforeAnswer{err}
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, beforeAnswer{err}
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, fmt.Errorf("read the answer: %w", err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // an interim answer; the final one follows
		}
		resp.Body = &h1Body{t: t, c: c, body: resp.Body, reuse: t.keepAlive && !resp.Close}
		return resp, nil
	}
}

// appendRequest is req as net/http's Transport writes a GET without a body: request line, Host,
// User-Agent (Go's unless the request sets one), the request's headers, and Connection: close
// when connections are not kept alive.
func appendRequest(b []byte, req *http.Request, closeConn bool) []byte {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if _, ok := req.Header["User-Agent"]; !ok {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	for k, vs := range req.Header {
		if k == "Host" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if closeConn || req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// h1Body hands the connection back to the pool once the answer was read to its end.
type h1Body struct {
	t      *h1Transport
	c      *h1Conn
	body   io.ReadCloser
	eof    bool
	reuse  bool
	closed bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("load: read on a closed answer body")
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close returns the connection to the pool if the answer was read to its end and may be
// followed by another; otherwise it closes the connection (as net/http does, without draining).
func (b *h1Body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.reuse && b.eof {
		b.t.put(b.c)
		return nil
	}
	return b.c.conn.Close()
}

// put keeps c for the next request, unless the pool is full or closed.
func (t *h1Transport) put(c *h1Conn) {
	t.mu.Lock()
	if t.closed || len(t.idle) >= t.maxIdle {
		t.mu.Unlock()
		c.conn.Close()
		return
	}
	t.idle = append(t.idle, c)
	t.mu.Unlock()
}

// CloseIdleConnections closes the pool's connections, and every connection handed back after.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.closed = nil, true
	t.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
