package alb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"
	"github.com/mtlsgate/mtlsgate/internal/idleconn"
	"github.com/mtlsgate/mtlsgate/internal/regularfile"
	"github.com/mtlsgate/mtlsgate/internal/serve"
)

// HandshakeTimeout bounds a client's TLS handshake.
const HandshakeTimeout = 10 * time.Second

// listenerState is one listener's configuration as loaded: what a new connection gets.
type listenerState struct {
	cfg     Listener
	where   string
	mode    string
	policy  Policy
	headers HeaderNames
	group   *targetGroup
	tls     *tls.Config
}

// buildListener validates one listener and prepares its TLS configuration.
func buildListener(i int, l Listener, stores map[string]*trustStore, groups map[string]*targetGroup, now func() time.Time) (*listenerState, error) {
	where := fmt.Sprintf("Listeners[%d]", i)
	ls := &listenerState{cfg: l, where: where}
	if l.Protocol != "HTTPS" {
		return nil, fmt.Errorf("%s.Protocol %q: the emulator serves HTTPS listeners only (set Protocol: HTTPS)", where, l.Protocol)
	}
	if l.Port < 0 || l.Port > 65535 {
		return nil, fmt.Errorf("%s.Port %d: use 1 to 65535 (0 picks a free port)", where, l.Port)
	}
	var err error
	if ls.policy, err = LookupPolicy(l.SslPolicy); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if ls.mode, err = l.MutualAuthentication.NormalizedMode(where); err != nil {
		return nil, err
	}
	advertise, err := l.MutualAuthentication.AdvertisesCANames(where)
	if err != nil {
		return nil, err
	}
	if ls.headers, err = ParseHeaderAttributes(l.Attributes, where); err != nil {
		return nil, err
	}
	if len(l.Certificates) == 0 {
		return nil, fmt.Errorf("%s.Certificates: an HTTPS listener needs at least one certificate", where)
	}
	// ALB's HTTPS listeners offer HTTP/2 by ALPN, and HTTP/1.1 (SPEC A-H2-1).
	conf := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	ls.policy.apply(conf)
	for j, c := range l.Certificates {
		pair, err := loadKeyPair(c.CertificateFile, c.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.Certificates[%d]: load %q and %q: %w", where, j, c.CertificateFile, c.PrivateKeyFile, err)
		}
		conf.Certificates = append(conf.Certificates, pair)
	}
	if len(l.DefaultActions) != 1 || l.DefaultActions[0].Type != "forward" {
		return nil, fmt.Errorf("%s.DefaultActions: give exactly one action with Type: forward and a TargetGroupArn", where)
	}
	tgName := l.DefaultActions[0].TargetGroupArn
	if ls.group = groups[tgName]; ls.group == nil {
		return nil, fmt.Errorf("%s.DefaultActions[0].TargetGroupArn %q: no target group has that TargetGroupName or TargetGroupArn", where, tgName)
	}
	// "Session resumption is not supported while using mutual TLS passthrough or verify modes"
	// (mutual-authentication): every connection in those modes is a full handshake, so every
	// one presents (and has verified) a certificate. Off mode resumes, as ALB does (SPEC A-MODE-1).
	conf.SessionTicketsDisabled = ls.mode == ModePassthrough || ls.mode == ModeVerify
	switch ls.mode {
	case ModePassthrough:
		conf.ClientAuth = tls.RequestClientCert
	case ModeVerify:
		arn := l.MutualAuthentication.TrustStoreArn
		store := stores[arn]
		if store == nil {
			return nil, fmt.Errorf("%s.MutualAuthentication.TrustStoreArn %q: verify mode needs a trust store; no trust store has that Name or TrustStoreArn", where, arn)
		}
		// RequestClientCert, not RequireAnyClientCert: a missing certificate then reaches
		// VerifyConnection too, so every verify failure carries its ALB code.
		conf.ClientAuth = tls.RequestClientCert
		if advertise {
			conf.ClientCAs = store.pool
		}
		v := &verifier{store: store, ignoreExpiry: l.MutualAuthentication.IgnoreClientCertificateExpiry, now: now}
		conf.VerifyConnection = func(cs tls.ConnectionState) error { return v.verifyCached(cs.PeerCertificates) }
	}
	if ls.policy.NoChaCha20 {
		conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !slices.Contains(hello.SupportedVersions, tls.VersionTLS13) {
				return nil, nil // refused as a protocol version the policy lacks
			}
			for _, s := range hello.CipherSuites {
				if s == tls.TLS_AES_128_GCM_SHA256 || s == tls.TLS_AES_256_GCM_SHA384 {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("policy %s: the client offers no AES-GCM TLS 1.3 suite", ls.policy.Name)
		}
	}
	ls.tls = conf
	return ls, nil
}

// connInfo is what the proxy needs to know about a connection's handshake.
type connInfo struct {
	mode    string
	traceID string
	port    string
	// born is when the connection was accepted, for the client keepalive duration.
	born time.Time
	// leaf points at the verified leaf's header values, looked up in the ALB's leafCache on the
	// connection's first request and reused by the rest: the leaf cannot change within a
	// connection.
	leafOnce sync.Once
	leaf     *leafValues
}

// leafHeaders returns the header values of the connection's leaf, from cache on first use.
func (c *connInfo) leafHeaders(leaf *x509.Certificate, cache *leafCache) *leafValues {
	c.leafOnce.Do(func() { c.leaf = cache.get(leaf) })
	return c.leaf
}

type connInfoKey struct{}

// listener accepts TCP connections, runs the handshake itself (so each connection gets exactly
// one log line with its verify status) and hands handshaken connections to an http.Server.
type listener struct {
	idx   int
	alb   *ALB
	ln    net.Listener
	port  int
	conns chan net.Conn
	done  chan struct{}
	info  sync.Map // *tls.Conn → *connInfo, taken by ConnContext
	watch sync.Map // *tls.Conn → *idleWatch, until the connection closes
	http  *serve.Server
	wg    sync.WaitGroup
	once  sync.Once
	ctx   context.Context
	abort context.CancelFunc
	// proxyLog receives the reverse proxy's errors (a target cutting a body short).
	proxyLog *log.Logger
}

func startListener(ctx context.Context, a *ALB, idx int, l Listener) (*listener, error) {
	host := l.Address
	if host == "" {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(l.Port))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("Listeners[%d]: listen on %s: %w", idx, addr, err)
	}
	lctx, abort := context.WithCancel(context.Background())
	out := &listener{idx: idx, alb: a, ln: ln, port: ln.Addr().(*net.TCPAddr).Port, conns: make(chan net.Conn),
		done: make(chan struct{}), ctx: lctx, abort: abort,
		proxyLog: slog.NewLogLogger(a.diagnostics().Handler(), slog.LevelDebug)}
	out.http, err = serve.Listen(ctx, "", http.HandlerFunc(out.serveHTTP), serve.Options{
		Listener: (*handoff)(out),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if v, ok := out.info.LoadAndDelete(c); ok {
				return context.WithValue(ctx, connInfoKey{}, v.(*connInfo))
			}
			return ctx
		},
		ConnState: out.connState,
		ErrorLog:  a.diagnostics(),
		Protocols: httpAndH2(),
		// The idle timeout in force is applied per connection by idleWatch.
		IdleTimeout: MaxIdleTimeout,
	})
	if err != nil {
		ln.Close()
		abort()
		return nil, err
	}
	out.wg.Add(1)
	go out.acceptLoop()
	return out, nil
}

// httpAndH2 is HTTP/1.1 and HTTP/2, what an HTTPS listener serves.
func httpAndH2() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &p
}

func (l *listener) url() string {
	return "https://" + net.JoinHostPort(urlHost(l.ln.Addr()), strconv.Itoa(l.port))
}

func urlHost(a net.Addr) string {
	ip := a.(*net.TCPAddr).IP
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

func (l *listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handshake(c)
		}()
	}
}

// handshake runs one connection's TLS handshake under the live configuration, logs it, and
// hands a successful connection to the HTTP server.
func (l *listener) handshake(raw net.Conn) {
	st := l.alb.state.Load()
	ls := st.listeners[l.idx]
	trace := newTraceID()
	start := time.Now()
	activity := newActivityConn(raw, l.alb.idleTimeout)
	tc := tls.Server(activity, ls.tls)
	ctx, cancel := context.WithTimeout(l.ctx, HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	latency := time.Since(start)
	cs := tc.ConnectionState()
	if err == nil && ls.policy.NoChaCha20 && cs.CipherSuite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		err = fmt.Errorf("policy %s does not allow %s", ls.policy.Name, OpenSSLCipherName(cs.CipherSuite))
	}
	clientIP, clientPort, _ := net.SplitHostPort(raw.RemoteAddr().String())
	nodeIP, _, _ := net.SplitHostPort(raw.LocalAddr().String())
	e := LogEntry{Time: start, ClientIP: clientIP, ClientPort: clientPort, ListenerPort: strconv.Itoa(l.port),
		HandshakeLatency: latency, TraceID: trace, VerifyStatus: "Success", ELB: elbField(st.cfg), IPAddress: nodeIP}
	if cs.Version != 0 {
		e.Protocol, e.Cipher, e.KeyExchange = ProtocolName(cs.Version), OpenSSLCipherName(cs.CipherSuite), GroupName(cs.CurveID)
	}
	// The leaf's fields are rendered only for a connection log that is written somewhere.
	if len(cs.PeerCertificates) > 0 && st.log.enabled() {
		leaf := cs.PeerCertificates[0]
		e.Subject, e.Validity, e.Serial = certinfo.DN(leaf), certinfo.Validity(leaf), certinfo.SerialHex(leaf)
	}
	if err != nil {
		e.VerifyStatus = "Failed:" + string(codeOf(err))
		if e.Protocol == "" {
			e.Cipher, e.KeyExchange = "", ""
		}
	}
	st.log.write(e)
	if err != nil {
		if l.alb.opts.Log != nil {
			l.alb.opts.Log.Debug("alb: handshake failed", "listener", l.port, "client", raw.RemoteAddr().String(), "status", e.VerifyStatus, "err", err)
		}
		_ = tc.Close()
		return
	}
	l.info.Store(net.Conn(tc), &connInfo{mode: ls.mode, traceID: trace, port: strconv.Itoa(l.port), born: l.alb.opts.Now()})
	l.watch.Store(net.Conn(tc), &idleWatch{raw: activity, conn: tc, timeout: l.alb.idleTimeout})
	select {
	case l.conns <- tc:
	case <-l.done:
		l.info.Delete(net.Conn(tc))
		l.watch.Delete(net.Conn(tc))
		_ = tc.Close()
	}
}

// connState drives a connection's idle watch from the HTTP server's view of it.
func (l *listener) connState(c net.Conn, s http.ConnState) {
	v, ok := l.watch.Load(c)
	if !ok {
		return
	}
	w := v.(*idleWatch)
	switch s {
	case http.StateNew, http.StateIdle:
		w.idle()
	case http.StateActive:
		w.active()
	case http.StateClosed, http.StateHijacked:
		w.stop()
		l.watch.Delete(c)
	}
}

// handoff is the net.Listener the HTTP server reads handshaken connections from.
type handoff listener

// Accept implements net.Listener: the next handshaken connection.
func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; the TCP listener is closed by listener.close.
func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// Addr implements net.Listener.
func (h *handoff) Addr() net.Addr { return h.ln.Addr() }

func (l *listener) close(ctx context.Context) error {
	err := l.ln.Close()
	l.abort()
	// The HTTP server closes the handoff itself while shutting down; closing it first would make
	// Serve return net.ErrClosed instead of http.ErrServerClosed.
	herr := l.http.Close(ctx)
	_ = (*handoff)(l).Close()
	l.wg.Wait()
	return errors.Join(err, herr)
}

// serveHTTP forwards one request to the listener's target group with ALB's headers.
func (l *listener) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ls := l.alb.state.Load().listeners[l.idx]
	info, _ := r.Context().Value(connInfoKey{}).(*connInfo)
	if info == nil {
		info = &connInfo{}
	}
	if !info.born.IsZero() && l.alb.opts.Now().Sub(info.born) >= l.alb.clientKeepAlive() {
		// Past the client keepalive duration: this response is the connection's last (HTTP/1.1
		// says Connection: close; Go's HTTP/2 server turns it into a GOAWAY).
		w.Header().Set("Connection", "close")
	}
	t := ls.group.pick()
	if t == nil {
		writeELBError(w, http.StatusServiceUnavailable, "Service Temporarily Unavailable")
		return
	}
	switch r.Method {
	case http.MethodTrace:
		writeELBError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	case http.MethodConnect:
		writeELBError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	dropSpoofs(r.Header, ls.headers)
	var bodyFailed idleconn.Failure
	r.Body = idleconn.NewBody(w, r, l.alb.idleTimeout(), &bodyFailed)
	var chain []*x509.Certificate
	if r.TLS != nil {
		chain = r.TLS.PeerCertificates
	}
	proxy := &httputil.ReverseProxy{
		ErrorLog: l.proxyLog,
		// Body-copy buffers are reused instead of allocated (32 KiB) per response.
		BufferPool: l.alb.buffers,
		Transport:  ls.group.transportFor(BackendPolicy(ls.policy)),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = ls.group.scheme, t.addr()
			pr.Out.Host = pr.In.Host
			ls.headers.strip(pr.Out.Header)
			switch info.mode {
			case ModePassthrough:
				ls.headers.setPassthrough(pr.Out.Header, chain)
			case ModeVerify:
				if len(chain) > 0 {
					ls.headers.setVerify(pr.Out.Header, info.leafHeaders(chain[0], &l.alb.leaves))
				}
			}
			clientIP, _, _ := net.SplitHostPort(pr.In.RemoteAddr)
			if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
				clientIP = joinComma(prior) + ", " + clientIP
			}
			pr.Out.Header.Set("X-Forwarded-For", clientIP)
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
			pr.Out.Header.Set("X-Forwarded-Port", info.port)
			pr.Out.Header.Set("X-Amzn-Trace-Id", traceHeader(info.traceID))
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if l.alb.opts.Log != nil {
				l.alb.opts.Log.Debug("alb: target failed", "target", t.addr(), "err", err)
			}
			if timeout, bodyErr := bodyFailed.Get(); bodyErr != nil {
				// The client, not the target, failed: a body idle past the timeout is 408.
				w.Header().Set("Connection", "close")
				if timeout {
					writeELBError(w, http.StatusRequestTimeout, "Request Time-out")
					return
				}
				writeELBError(w, http.StatusBadRequest, "Bad Request")
				return
			}
			code, text := targetErrorStatus(err)
			writeELBError(w, code, text)
		},
	}
	proxy.ServeHTTP(w, r)
}

func joinComma(vs []string) string {
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// traceHeader is an X-Amzn-Trace-Id derived from the connection's trace ID.
func traceHeader(tid string) string {
	if len(tid) < 28 {
		return "Root=1-" + strconv.FormatInt(time.Now().Unix(), 16)
	}
	return "Root=1-" + strconv.FormatInt(time.Now().Unix(), 16) + "-" + tid[4:28]
}

// loadKeyPair reads a listener certificate and its key as bounded regular files.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := regularfile.Read(certFile, regularfile.MaxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := regularfile.Read(keyFile, regularfile.MaxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
