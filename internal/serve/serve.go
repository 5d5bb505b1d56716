// Package serve runs the reference servers' HTTP(S) listeners with one lifecycle: bind, serve in
// the background, report the bound address (so tests can ask for port 0), shut down gracefully.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/idleconn"
)

// Server is one listener serving one handler.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
	tls  bool
}

// Options tunes a listener; the zero value serves plain HTTP with sane timeouts.
type Options struct {
	// TLS, when set, makes the listener HTTPS.
	TLS *tls.Config
	// ErrorLog receives the http.Server's internal errors (handshake failures among them).
	ErrorLog *slog.Logger
	// ConnContext and ConnState are passed to http.Server as they are.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	ConnState   func(net.Conn, http.ConnState)
	// Listener, when set, is used instead of binding addr (e.g. a listener that logs handshakes).
	Listener net.Listener
	// Protocols, when set, are the HTTP versions served (HTTP/2 over TLS only, negotiated by
	// ALPN); nil keeps Go's default, HTTP/1.1 and, over TLS, HTTP/2.
	Protocols *http.Protocols
	// IdleTimeout, when set, replaces DefaultIdleTimeout as the longest a keep-alive connection
	// waits for its next request; a listener that enforces its own (changeable) idle timeout
	// sets it to that timeout's maximum.
	IdleTimeout time.Duration
	// HeaderTimeout, when set, replaces the package's HeaderTimeout as the bound on a client's
	// TLS handshake and request header block (nginx's client_header_timeout, set in kong.conf).
	HeaderTimeout time.Duration
	// SendTimeout, when set, bounds each write to a client (nginx's send_timeout): a client that
	// stops reading a response has its connection closed instead of holding it, and the upstream
	// behind it, forever. Zero leaves writes unbounded.
	SendTimeout time.Duration
}

// Limits every listener applies, set explicitly so a change of Go's defaults cannot loosen them.
const (
	// MaxHeaderBytes bounds a request's header block, over HTTP/1.1 and HTTP/2 alike (HTTP/2
	// advertises it as SETTINGS_MAX_HEADER_LIST_SIZE); past it the answer is 431. 64 KiB is
	// ALB's "whole header" quota and more than nginx's (Kong's) 4 × 8k buffers.
	MaxHeaderBytes = 64 << 10
	// MaxConcurrentStreams bounds the HTTP/2 streams a client may open at once on a connection
	// (nginx's http2_max_concurrent_streams default; Go's is 250). Go's server also bounds the
	// handlers a client can start by opening and resetting streams (rapid reset, CVE-2023-44487).
	MaxConcurrentStreams = 128
	// HeaderTimeout bounds a client's TLS handshake and request header block: nginx's (so Kong's)
	// client_header_timeout and ssl_handshake_timeout are both 60 s, as is ALB's default idle
	// timeout.
	HeaderTimeout = 60 * time.Second
	// DefaultIdleTimeout bounds the wait for a keep-alive connection's next request when
	// Options.IdleTimeout is unset.
	DefaultIdleTimeout = 120 * time.Second
)

// http2Limits are the HTTP/2 limits, no looser than Go's http2.Server defaults.
func http2Limits() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxConcurrentStreams:          MaxConcurrentStreams,
		MaxDecoderHeaderTableSize:     4096,
		MaxEncoderHeaderTableSize:     4096,
		MaxReadFrameSize:              16 << 10,
		MaxReceiveBufferPerStream:     1 << 20,
		MaxReceiveBufferPerConnection: 1 << 20,
	}
}

// Listen binds addr and starts serving h in the background. The server stops when Close is
// called; ctx bounds only the bind.
func Listen(ctx context.Context, addr string, h http.Handler, opts Options) (*Server, error) {
	ln := opts.Listener
	if ln == nil {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %q: %w", addr, err)
		}
	}
	if opts.SendTimeout > 0 {
		ln = &sendTimeoutListener{Listener: ln, timeout: opts.SendTimeout}
	}
	idle := DefaultIdleTimeout
	if opts.IdleTimeout > 0 {
		idle = opts.IdleTimeout
	}
	header := HeaderTimeout
	if opts.HeaderTimeout > 0 {
		header = opts.HeaderTimeout
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: header,
		IdleTimeout:       idle,
		TLSConfig:         opts.TLS,
		ConnContext:       opts.ConnContext,
		ConnState:         opts.ConnState,
		MaxHeaderBytes:    MaxHeaderBytes,
		Protocols:         opts.Protocols,
		HTTP2:             http2Limits(),
	}
	if opts.ErrorLog != nil {
		srv.ErrorLog = slog.NewLogLogger(opts.ErrorLog.Handler(), slog.LevelDebug)
	}
	s := &Server{srv: srv, ln: ln, done: make(chan error, 1), tls: opts.TLS != nil}
	go func() {
		var err error
		if s.tls {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of the listener, with 127.0.0.1 for a wildcard bind.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Close stops accepting, waits up to ctx for in-flight requests, then closes what remains.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serveErr := <-s.done; serveErr != nil && err == nil {
		err = serveErr
	}
	return err
}

// sendTimeoutListener hands out connections whose every write waits at most timeout.
type sendTimeoutListener struct {
	net.Listener
	timeout time.Duration
}

// Accept implements net.Listener.
func (l *sendTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &idleconn.Conn{Conn: c, WriteTimeout: l.timeout}, nil
}
