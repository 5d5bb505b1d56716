package kong

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/h1upstream"
	"github.com/mtlsgate/mtlsgate/internal/idleconn"
	"github.com/mtlsgate/mtlsgate/internal/version"
)

// identityHeaders are headers only the gateway may set; a client's own copies are removed before
// anything else runs (SPEC K-MTLS-6).
var identityHeaders = canonicalHeaders(IdentityHeaders())

// reqState carries one proxied request through the pipeline.
type reqState struct {
	id         string
	start      time.Time
	rt         *runtime
	match      *match
	scheme     string
	serverPort string
	consumer   *consumer
	anonymous  bool
	// authenticated is set once an authentication plugin accepted the request; groups are the
	// groups it established (mtls-auth's CN or DN with skip_consumer_lookup).
	authenticated   bool
	groups          []string
	setHeaders      http.Header
	proxyLatency    time.Duration
	upstreamLatency time.Duration
	upstreamStatus  int
	// dial is the host:port the request goes to (a balancer target, or the service's host).
	dial string
	// body says why reading the client's request body failed, if it did.
	body idleconn.Failure
}

type stateKey struct{}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP is the proxy listener's handler.
func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request) {
	st := &reqState{id: newRequestID(), start: time.Now(), rt: g.rt.Load(), scheme: "http", setHeaders: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			g.log.Error("proxy request panicked", "request_id", st.id, "panic", v, "stack", string(debug.Stack()))
			g.kongError(w, r, st, http.StatusInternalServerError, msgUnexpectedError, false)
		}
	}()
	if r.TLS != nil {
		st.scheme = "https"
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		_, st.serverPort, _ = net.SplitHostPort(la.String())
	}
	for _, h := range identityHeaders {
		r.Header.Del(h)
	}
	dropInvalidHeaders(r.Header)
	if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
		// nginx refuses both before any Lua phase runs; Kong's error_page renders the 405.
		g.kongError(w, r, st, http.StatusMethodNotAllowed, msgMethodNotAllowed, false)
		return
	}
	r.Body = idleconn.NewBody(w, r, g.bodyTimeout, &st.body)
	host, port := r.Host, ""
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host, port = h, p
	}
	if port == "" {
		port = st.serverPort
	}
	sni := ""
	if r.TLS != nil {
		sni = r.TLS.ServerName
	}
	m := st.rt.router.find(request{
		scheme: st.scheme, method: r.Method, host: strings.ToLower(host), port: port,
		path: normalizePath(r.URL.Path), sni: sni,
		headers: func(name string) []string { return r.Header.Values(name) },
	})
	if m == nil {
		g.kongError(w, r, st, http.StatusNotFound, msgNoRoute, false)
		return
	}
	st.match = m
	if !slices.Contains(m.route.protocols, st.scheme) {
		if st.scheme == "http" && slices.Contains(m.route.protocols, "https") {
			g.redirectHTTPS(w, r, st, host)
			return
		}
		g.kongError(w, r, st, http.StatusNotFound, msgNoRoute, false)
		return
	}
	if m.route.service == nil || !m.route.service.enabled {
		g.kongError(w, r, st, http.StatusServiceUnavailable, msgNoService, false)
		return
	}
	if !g.runPlugins(w, r, st) {
		return
	}
	svc := m.route.service
	st.dial = net.JoinHostPort(svc.host, strconv.Itoa(svc.port))
	if svc.balancer != nil {
		t, ok := svc.balancer.pick()
		if !ok {
			g.kongError(w, r, st, http.StatusServiceUnavailable, msgNoPeer, false)
			return
		}
		st.dial = net.JoinHostPort(t.host, strconv.Itoa(t.port))
	}
	st.proxyLatency = time.Since(st.start)
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

// redirectHTTPS answers an http request on an https-only route: 426 by default, or the route's
// https_redirect_status_code with a Location.
func (g *Gateway) redirectHTTPS(w http.ResponseWriter, r *http.Request, st *reqState, host string) {
	code := st.match.route.redirectStatus
	if code == 0 || code == http.StatusUpgradeRequired {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "TLS/1.2, HTTP/1.1")
		g.kongError(w, r, st, http.StatusUpgradeRequired, msgUseHTTPS, false)
		return
	}
	w.Header().Set("Location", "https://"+host+r.URL.RequestURI())
	g.exit(w, st, code, contentTypePlain, "")
}

func peerCertificates(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

func setConsumerHeaders(h http.Header, c *consumer, anonymous bool) {
	h.Set("X-Consumer-ID", c.id)
	if c.customID != "" {
		h.Set("X-Consumer-Custom-ID", c.customID)
	}
	if c.username != "" {
		h.Set("X-Consumer-Username", c.username)
	}
	if anonymous {
		h.Set("X-Anonymous-Consumer", "true")
	}
}

// newReverseProxy builds the one ReverseProxy all routes share; per-request settings travel in
// the request context.
func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      roundTripper{g},
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.upstreamError,
		// A body copy the upstream cuts short is the gateway's diagnostic, not the process's.
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		// Kong buffers responses (response_buffering defaults to true): one write, not one per chunk.
		FlushInterval: 0,
		// Body-copy buffers are reused instead of allocated (32 KiB) per response.
		BufferPool: g.buffers,
	}
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(stateKey{}).(*reqState)
	svc := st.match.route.service
	in, out := pr.In, pr.Out
	scheme := "http"
	if svc.protocol == "https" || svc.protocol == "grpcs" || svc.protocol == "wss" {
		scheme = "https"
	}
	hostPort := net.JoinHostPort(svc.host, strconv.Itoa(svc.port))
	out.URL = &url.URL{Scheme: scheme, Host: st.dial, Path: st.match.upstreamPath, RawQuery: in.URL.RawQuery}
	if in.URL.ForceQuery {
		out.URL.ForceQuery = true
	}
	out.Host = svc.host
	if !(svc.port == 80 && scheme == "http") && !(svc.port == 443 && scheme == "https") {
		out.Host = hostPort
	}
	if b := svc.balancer; b != nil && b.hostHeader != "" {
		out.Host = b.hostHeader
	}
	if st.match.route.preserveHost {
		out.Host = in.Host
	}
	out.Header.Del("Proxy")
	out.Header.Del("Proxy-Connection")

	remoteIP, _, _ := net.SplitHostPort(in.RemoteAddr)
	trusted := g.trusted(remoteIP)
	fwdHost := in.Host
	if h, _, err := net.SplitHostPort(in.Host); err == nil {
		fwdHost = h
	}
	proto, port, path, prefix := st.scheme, st.serverPort, in.URL.EscapedPath(), ""
	if st.match.prefix != "" && st.match.prefix != "/" {
		prefix = st.match.prefix
	}
	if trusted {
		proto = orDefault(in.Header.Get("X-Forwarded-Proto"), proto)
		fwdHost = orDefault(in.Header.Get("X-Forwarded-Host"), fwdHost)
		port = orDefault(in.Header.Get("X-Forwarded-Port"), port)
		path = orDefault(in.Header.Get("X-Forwarded-Path"), path)
		prefix = orDefault(in.Header.Get("X-Forwarded-Prefix"), prefix)
	}
	xff := remoteIP
	if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + remoteIP
	}
	out.Header.Set("X-Forwarded-For", xff)
	out.Header.Set("X-Forwarded-Proto", proto)
	out.Header.Set("X-Forwarded-Host", fwdHost)
	out.Header.Set("X-Forwarded-Port", port)
	out.Header.Set("X-Forwarded-Path", path)
	if prefix != "" {
		out.Header.Set("X-Forwarded-Prefix", prefix)
	} else {
		out.Header.Del("X-Forwarded-Prefix")
	}
	out.Header.Set("X-Real-IP", remoteIP)
	via := httpVersion(in) + " " + version.Server
	if prior := in.Header.Get("Via"); prior != "" {
		via = prior + ", " + via
	}
	out.Header.Set("Via", via)
	if slices.Contains(g.conf.HeadersUpstream, "X-Kong-Request-Id") {
		out.Header.Set("X-Kong-Request-Id", st.id)
	}
	for k, v := range st.setHeaders {
		out.Header[k] = v
	}
}

// httpVersion is the request's version as ngx.req.http_version() prints it: 1.0, 1.1 or 2.
func httpVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func (g *Gateway) modifyResponse(resp *http.Response) error {
	st := resp.Request.Context().Value(stateKey{}).(*reqState)
	st.upstreamStatus = resp.StatusCode
	g.responseHeaders(resp.Header, st, true)
	return nil
}

// upstreamError maps a failed upstream exchange to Kong's status and message (SPEC K-UP-5, K-UP-6).
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := r.Context().Value(stateKey{}).(*reqState)
	if timeout, bodyErr := st.body.Get(); bodyErr != nil {
		if timeout {
			// nginx ends a request whose body stalls past client_body_timeout with a 408 it
			// logs but never sends: the connection is closed.
			g.log.Info("client body timed out", "request_id", st.id, "error", bodyErr)
			panic(http.ErrAbortHandler)
		}
		g.kongError(w, r, st, http.StatusBadRequest, msgBadRequest, false)
		return
	}
	status, msg := http.StatusBadGateway, msgBadUpstream
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && (dnsErr.IsNotFound || !dnsErr.IsTimeout):
		status, msg = http.StatusServiceUnavailable, msgNameResolution
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		status, msg = http.StatusGatewayTimeout, msgTimeout
	case errors.Is(err, context.Canceled):
		return // the client went away
	}
	g.log.Warn("upstream request failed", "request_id", st.id, "route", st.match.route.id, "service", st.match.route.service.id, "error", err)
	g.kongError(w, r, st, status, msg, true)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (g *Gateway) trusted(ip string) bool {
	if len(g.conf.TrustedIPs) == 0 {
		return false
	}
	parsed := net.ParseIP(ip)
	for _, t := range g.conf.TrustedIPs {
		if _, cidr, err := net.ParseCIDR(t); err == nil && parsed != nil && cidr.Contains(parsed) {
			return true
		}
		if t == ip {
			return true
		}
	}
	return false
}

// roundTripper sends each request through the transport of its service's connection settings
// and measures the upstream latency.
type roundTripper struct{ g *Gateway }

func (rtp roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	st := req.Context().Value(stateKey{}).(*reqState)
	t := rtp.g.transports.get(st.match.route.service)
	begin := time.Now()
	resp, err := t.RoundTrip(req)
	st.upstreamLatency = time.Since(begin)
	return resp, err
}

// transportPool keeps one transport per distinct connection identity, so pooled upstream
// connections are reused only while the service's TLS identity and trust are unchanged. Plain
// HTTP requests without a body go over h1upstream's pool, the rest over its http.Transport.
type transportPool struct {
	mu   sync.Mutex
	pool map[string]*h1upstream.Transport
	tls  func(*service) *tls.Config
	// maxHeader is proxy_buffer_size: the most an upstream's response headers may take.
	maxHeader int64
}

func newTransportPool(tlsFor func(*service) *tls.Config) *transportPool {
	return &transportPool{pool: map[string]*h1upstream.Transport{}, tls: tlsFor}
}

func (p *transportPool) get(s *service) *h1upstream.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.pool[s.transportKey]; ok {
		return t
	}
	t := h1upstream.New(&http.Transport{
		DialContext: idleconn.Dialer(s.connectTimeout, func() (time.Duration, time.Duration) {
			return s.readTimeout, s.writeTimeout
		}),
		TLSClientConfig:        p.tls(s),
		MaxResponseHeaderBytes: p.maxHeader,
		TLSHandshakeTimeout:    s.connectTimeout,
		ResponseHeaderTimeout:  s.readTimeout,
		MaxIdleConnsPerHost:    64,
		DisableCompression:     true, // forward Accept-Encoding as the client sent it
		IdleConnTimeout:        60 * time.Second,
		ForceAttemptHTTP2:      false,
	})
	p.pool[s.transportKey] = t
	return t
}

// retain drops the transports no service of the current runtime uses, closing their idle
// connections (in-flight requests finish on them).
func (p *transportPool) retain(keys map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.pool {
		if !keys[k] {
			t.CloseIdleConnections()
			delete(p.pool, k)
		}
	}
}

func (p *transportPool) closeAll() { p.retain(nil) }
