// Package h1upstream forwards the reference gateways' plain-HTTP/1.1 upstream requests over
// pooled keep-alive connections in the caller's goroutine. http.Transport hands every exchange
// to two goroutines per connection (writeLoop and readLoop), which profiles put at about 30 % of
// the keep-alive proxy's CPU; here the request is written and the response head read
// synchronously, with net/http's own request writer and response reader, so the bytes on the
// wire are Transport's. Anything unusual goes to the http.Transport it was built from.
package h1upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// defaultMaxHeaderBytes is http.Transport's limit on response headers when
// MaxResponseHeaderBytes is zero.
const defaultMaxHeaderBytes = 10 << 20

// errHeaderTimeout is what http.Transport returns when ResponseHeaderTimeout passes: a net.Error
// whose Timeout() is true, so the gateways' error mappers answer 504 as before.
var errHeaderTimeout error = &timeoutError{"net/http: timeout awaiting response headers"}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// Transport is an http.RoundTripper that sends plain-HTTP requests without a body over its own
// keep-alive pool, and everything else (https, upgrades, Expect, request bodies, settings it
// does not implement) through the http.Transport it was built from.
type Transport struct {
	fallback *http.Transport
	// lean is false when the fallback's settings ask for something this pool does not do.
	lean        bool
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int
	idleTimeout time.Duration
	headerWait  time.Duration
	maxHeader   int64

	mu sync.Mutex
	// idle holds the idle connections per host:port, most recently used last.
	idle map[string][]*conn
	// closeIdle is set by CloseIdleConnections and cleared by the next request, as in
	// http.Transport: connections that come back meanwhile are closed, not pooled.
	closeIdle bool

	writers sync.Pool // *bufio.Writer, lent for the length of one request write
}

// New returns a Transport with fallback's connection settings: DialContext (so idleconn's
// per-read and per-write deadlines apply), MaxIdleConnsPerHost, IdleConnTimeout,
// ResponseHeaderTimeout and MaxResponseHeaderBytes. fallback carries the requests this
// Transport does not; when its settings ask for a proxy, compression, no keep-alives or
// connection limits, it carries all of them.
func New(fallback *http.Transport) *Transport {
	t := &Transport{
		fallback:    fallback,
		dial:        fallback.DialContext,
		maxIdle:     fallback.MaxIdleConnsPerHost,
		idleTimeout: fallback.IdleConnTimeout,
		headerWait:  fallback.ResponseHeaderTimeout,
		maxHeader:   fallback.MaxResponseHeaderBytes,
		idle:        map[string][]*conn{},
	}
	t.lean = fallback.Proxy == nil && fallback.DisableCompression && !fallback.DisableKeepAlives &&
		fallback.MaxIdleConns == 0 && fallback.MaxConnsPerHost == 0 && fallback.OnProxyConnectResponse == nil
	if t.dial == nil {
		t.dial = (&net.Dialer{}).DialContext
	}
	if t.maxIdle == 0 {
		t.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if t.maxHeader == 0 {
		t.maxHeader = defaultMaxHeaderBytes
	}
	return t
}

// Fallback is the http.Transport that carries what this Transport does not (health checks may
// use it directly).
func (t *Transport) Fallback() *http.Transport { return t.fallback }

// CloseIdleConnections closes the idle connections of both paths; connections in use are closed
// when they come back, until the next request (http.Transport's rule).
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	m := t.idle
	t.idle = map[string][]*conn{}
	t.closeIdle = true
	t.mu.Unlock()
	for _, cs := range m {
		for _, c := range cs {
			c.close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	addr := hostPort(req.URL.Host)
	for {
		c, err := t.get(ctx, addr)
		if err != nil {
			if cerr := context.Cause(ctx); ctx.Err() != nil {
				return nil, cerr
			}
			return nil, err
		}
		resp, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if !shouldRetry(c, req, err) {
			var nw nothingWrittenError
			var rf readFromServerError
			switch {
			case errors.As(err, &nw):
				err = nw.err
			case errors.As(err, &rf):
				err = fmt.Errorf("reading response from %s: %w", addr, rf.err)
			}
			return nil, err
		}
		// Like http.Transport: the request goes again on another connection (idle or new); a
		// failure on a new connection is final.
	}
}

// handles reports whether req takes the lean path: plain HTTP to a host, no request body, no
// Upgrade, no Expect, a valid method and valid header fields (http.Transport reports invalid
// ones with its own errors, so those go to it).
func (t *Transport) handles(req *http.Request) bool {
	if !t.lean || req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || req.Header == nil {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if len(req.Trailer) > 0 || req.Header["Upgrade"] != nil || req.Header["Expect"] != nil {
		return false
	}
	if req.Method != "" && !validMethod(req.Method) {
		return false
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

func validMethod(m string) bool {
	return len(m) > 0 && strings.IndexFunc(m, func(r rune) bool { return !httpguts.IsTokenRune(r) }) == -1
}

// hostPort is the pool key: host:port, port 80 when the URL gives none (http.Transport's
// canonicalAddr for http).
func hostPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80")
}

// shouldRetry is http.Transport's rule (persistConn.shouldRetryRequest): only a reused
// connection, and then a request of which nothing was written (the lean path sends no body, so
// it can always go again), or a replayable one whose first response byte never came.
func shouldRetry(c *conn, req *http.Request, err error) bool {
	if !c.reused {
		return false
	}
	var nw nothingWrittenError
	if errors.As(err, &nw) {
		return true
	}
	if !replayable(req) {
		return false
	}
	var rf readFromServerError
	return errors.As(err, &rf)
}

// replayable is (*http.Request).isReplayable for a request without a body.
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// nothingWrittenError: the connection failed before any byte of the request left.
type nothingWrittenError struct{ err error }

func (e nothingWrittenError) Error() string { return e.err.Error() }
func (e nothingWrittenError) Unwrap() error { return e.err }

// readFromServerError: the request was sent but not one byte of an answer came.
type readFromServerError struct{ err error }

func (e readFromServerError) Error() string {
	return "net/http: Transport failed to read from server: " + e.err.Error()
}
func (e readFromServerError) Unwrap() error { return e.err }

// get takes the most recently used idle connection to addr that is still open and quiet, or
// dials a new one.
func (t *Transport) get(ctx context.Context, addr string) (*conn, error) {
	t.mu.Lock()
	t.closeIdle = false
	for {
		cs := t.idle[addr]
		if len(cs) == 0 {
			break
		}
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[addr] = cs[:len(cs)-1]
		if c.idleTimer != nil && !c.idleTimer.Stop() {
			// The idle timeout fired; its closeIfIdle will no longer find c in the pool.
			c.close()
			continue
		}
		t.mu.Unlock()
		if c.br.Buffered() == 0 && c.quiet() {
			c.reused = true
			return c, nil
		}
		// The upstream closed it while idle, or sent bytes nobody asked for (http.Transport's
		// readLoop drops such a connection the same way).
		c.close()
		t.mu.Lock()
	}
	t.mu.Unlock()
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, addr: addr, nc: nc}
	c.br = bufio.NewReader(readerFunc(c.read))
	return c, nil
}

// put pools c for its next request, or closes it if the pool is full or being emptied.
func (t *Transport) put(c *conn) {
	t.mu.Lock()
	if t.closeIdle || len(t.idle[c.addr]) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
	if t.idleTimeout > 0 {
		if c.idleTimer == nil {
			c.idleTimer = time.AfterFunc(t.idleTimeout, c.closeIfIdle)
		} else {
			c.idleTimer.Reset(t.idleTimeout)
		}
	}
	t.mu.Unlock()
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// conn is one upstream connection: its reader lives as long as it does; a writer is borrowed
// per request.
type conn struct {
	t      *Transport
	addr   string
	nc     net.Conn
	br     *bufio.Reader
	reused bool
	// readLimit is what the response head may still take (http.Transport's persistConn.readLimit).
	readLimit int64
	nwrite    int64
	// idleTimer closes the connection once it has been idle for IdleConnTimeout; headerTimer
	// once a response head has taken ResponseHeaderTimeout. Both are made once and reset.
	idleTimer, headerTimer *time.Timer
	// canceled and timedOut say why the connection was closed under a blocked read or write.
	canceled  atomic.Bool
	timedOut  atomic.Bool
	closeOnce sync.Once
}

func (c *conn) read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, fmt.Errorf("read limit of %d bytes exhausted", c.t.maxHeader)
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.nc.Read(p)
	c.readLimit -= int64(n)
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.nwrite += int64(n)
	return n, err
}

func (c *conn) close() { c.closeOnce.Do(func() { _ = c.nc.Close() }) }

// closeIfIdle is the idle timer's action: drop c if it is still in the pool.
func (c *conn) closeIfIdle() {
	t := c.t
	t.mu.Lock()
	cs := t.idle[c.addr]
	for i, ic := range cs {
		if ic == c {
			t.idle[c.addr] = append(cs[:i], cs[i+1:]...)
			t.mu.Unlock()
			c.close()
			return
		}
	}
	t.mu.Unlock()
}

// roundTrip writes req and reads the response head on c. The response body gives c back to the
// pool at its end. Closing the connection is how a cancellation or the response-header timeout
// interrupts a blocked read or write.
func (c *conn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { c.canceled.Store(true); c.close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.close()
		if c.canceled.Load() {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}

	c.nwrite = 0
	bw, _ := c.t.writers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(c, 4<<10)
	} else {
		bw.Reset(c)
	}
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	c.t.writers.Put(bw)
	if err != nil {
		if c.nwrite == 0 {
			return fail(nothingWrittenError{fmt.Errorf("writing request to %s: %w", c.addr, err)})
		}
		return fail(fmt.Errorf("net/http: HTTP/1.x transport connection broken: writing request to %s: %w", c.addr, err))
	}

	if c.t.headerWait > 0 {
		if c.headerTimer == nil {
			c.headerTimer = time.AfterFunc(c.t.headerWait, func() { c.timedOut.Store(true); c.close() })
		} else {
			c.headerTimer.Reset(c.t.headerWait)
		}
	}
	resp, err := c.readHead(req)
	if c.headerTimer != nil && !c.headerTimer.Stop() {
		err, resp = errHeaderTimeout, nil
	}
	if err != nil {
		if c.timedOut.Load() && !c.canceled.Load() {
			err = errHeaderTimeout
		}
		return fail(err)
	}
	c.readLimit = 1<<63 - 1 // no limit for the body
	keep := !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	if resp.Body == http.NoBody {
		c.finish(stop, keep)
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, c: c, ctx: ctx, stop: stop, keep: keep}
	return resp, nil
}

// readHead reads the response head, handing 1xx answers (but 101) to the request's
// httptrace.Got1xxResponse as http.Transport does (httputil.ReverseProxy forwards them so).
func (c *conn) readHead(req *http.Request) (*http.Response, error) {
	c.readLimit = c.t.maxHeader
	if _, err := c.br.Peek(1); err != nil {
		return nil, readFromServerError{err}
	}
	trace := httptrace.ContextClientTrace(req.Context())
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			// http.Transport's words, so logs read the same on both paths.
			if c.readLimit <= 0 {
				err = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", c.t.maxHeader)
			}
			return nil, fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
			// Delivered: the caller bounds 1xx answers, so the limit starts again.
			c.readLimit = c.t.maxHeader
		}
	}
}

// finish ends an exchange: c goes back to the pool if keep and no cancellation closed it.
func (c *conn) finish(stop func() bool, keep bool) {
	if !stop() || !keep {
		c.close()
		return
	}
	c.t.put(c)
}

// body is a response body that returns its connection to the pool at EOF and closes it on an
// error or an early Close.
type body struct {
	rc   io.ReadCloser
	c    *conn
	ctx  context.Context
	stop func() bool
	keep bool
	done bool
	err  error
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		if b.err == nil {
			return 0, errors.New("http: read on closed response body")
		}
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.done, b.err = true, io.EOF
		b.c.finish(b.stop, b.keep)
	case err != nil:
		b.done = true
		b.stop()
		b.c.close()
		if b.c.canceled.Load() {
			err = context.Cause(b.ctx)
		}
		b.err = err
	}
	return n, err
}

func (b *body) Close() error {
	if !b.done {
		// Not read to its end: the connection cannot carry another exchange. Closing it first
		// keeps the body's own Close from draining a slow upstream.
		b.done = true
		b.stop()
		b.c.close()
		_ = b.rc.Close()
	}
	return nil
}
