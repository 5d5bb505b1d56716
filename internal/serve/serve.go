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
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		TLSConfig:         opts.TLS,
		ConnContext:       opts.ConnContext,
		ConnState:         opts.ConnState,
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
