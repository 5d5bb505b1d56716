// Package framework is what every suite, the load scenarios and the bench share to talk to a
// gateway under test: the one TLS client, the request and response helpers, the echo decoder,
// the named timeouts and the README walkthrough's setup. It is plain Go (no Ginkgo, no Gomega,
// no harness), so it sits beside the clients and fixtures and anything above them may use it;
// the suites wrap it with their assertions.
package framework

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// The timeouts the suites wait with, named so a slow machine's failure points at one of them.
const (
	// RequestTimeout bounds one request through the gateway, handshake and body included.
	RequestTimeout = 15 * time.Second
	// HandshakeDeadline bounds a bare TLS exchange that is expected to end quickly (a refused
	// handshake, one request with Connection: close).
	HandshakeDeadline = 5 * time.Second
	// EventuallyTimeout bounds a wait for an asynchronous effect (a log line, a reload).
	EventuallyTimeout = 5 * time.Second
	// HealthCheckTimeout bounds a wait for a target's health to change (a few check intervals).
	HealthCheckTimeout = 10 * time.Second
	// PollInterval is the pause between two looks at an asynchronous effect.
	PollInterval = 10 * time.Millisecond
	// SpecBudget bounds a spec that waits on timeouts of its own (a slow CRL, a stalled target).
	SpecBudget = 20 * time.Second
	// SlowSpecBudget bounds a spec that waits on several such timeouts in turn.
	SlowSpecBudget = 30 * time.Second
)

// The HTTP versions a client can be pinned to, as Go's Response.Proto names them.
const (
	HTTP1 = "HTTP/1.1"
	HTTP2 = "HTTP/2.0"
)

// ClientOptions say how a client presents itself.
type ClientOptions struct {
	// Certificate is presented when the server asks for one; nil presents none.
	Certificate *tls.Certificate
	// Proto pins the HTTP version, negotiated by ALPN, so a listener that does not offer it
	// fails the request instead of quietly falling back; "" lets Go choose.
	Proto string
	// TLS adjusts the TLS configuration (versions, ciphers, SNI, ALPN) after the defaults.
	TLS []func(*tls.Config)
	// KeepAlive keeps one connection per host open and sends every request over it, instead of a
	// fresh connection per request: for a spec about what an established connection keeps (a
	// change must apply to new connections only). Close it with CloseIdleConnections.
	KeepAlive bool
}

// NewClient is the suites' one HTTP client: it trusts any server certificate, like curl -k (the
// specs check the client side), opens a fresh connection per request unless told to keep one
// (a fresh handshake, so no pooled connection hides a change), never follows a redirect (a spec
// sees the redirect itself),
// and tells a context made by WithClientPort which local port it dialled from.
func NewClient(o ClientOptions) *http.Client {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // like curl -k: the specs check the client side
	if o.Certificate != nil {
		cert := o.Certificate
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	for _, t := range o.TLS {
		t(conf)
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if p, ok := ctx.Value(portKey{}).(*string); ok && err == nil {
			*p = PortOf(c.LocalAddr())
		}
		return c, err
	}
	t := &http.Transport{TLSClientConfig: conf, DisableKeepAlives: !o.KeepAlive, DialContext: dial}
	if o.KeepAlive {
		t.MaxConnsPerHost = 1
	}
	if o.Proto != "" {
		var p http.Protocols
		p.SetHTTP1(o.Proto == HTTP1)
		p.SetHTTP2(o.Proto == HTTP2)
		t.Protocols = &p
		if o.Proto == HTTP1 {
			conf.NextProtos = []string{"http/1.1"} // Go sends no ALPN for HTTP/1.1 otherwise
		}
	}
	return &http.Client{
		Transport:     t,
		Timeout:       RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TLSConfig is the TLS configuration a client made by NewClient uses, for a bare handshake.
func TLSConfig(c *http.Client) *tls.Config { return c.Transport.(*http.Transport).TLSClientConfig }

// portKey is the context key under which NewClient's dialer reports the client port.
type portKey struct{}

// WithClientPort returns a context under which a client made by NewClient writes the local port
// of the connection it dials into port, so a connection-log line can be matched to it.
func WithClientPort(ctx context.Context, port *string) context.Context {
	return context.WithValue(ctx, portKey{}, port)
}

// PortOf is the port of a socket address.
func PortOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// Response is one exchange with the gateway, with the upstream's echo decoded when there is one.
type Response struct {
	Status int
	Proto  string
	Header http.Header
	Body   []byte
	// Echo is the echo upstream's account of the request it received, nil when the answer is
	// not an echo (the gateway answered itself).
	Echo *upstream.Echo
	TLS  *tls.ConnectionState
}

// JSON decodes the body as a JSON object.
func (r Response) JSON() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %w: %s", err, r.Body)
	}
	return m, nil
}

// DecodeEcho reads the echo upstream's answer (reference/upstream's JSON format): only a JSON
// body (by its Content-Type) naming the request's method is an echo, so a gateway's own JSON
// error is never mistaken for one.
func DecodeEcho(header http.Header, body []byte) *upstream.Echo {
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	var e upstream.Echo
	if json.Unmarshal(body, &e) != nil || e.Method == "" {
		return nil
	}
	return &e
}

// Header builds a request header from name, value pairs; an odd last name is ignored.
func Header(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// WithHost sets the request's Host header.
func WithHost(host string) func(*http.Request) { return func(r *http.Request) { r.Host = host } }

// ErrBuildRequest marks a request that could not even be built (a malformed URL): a spec that
// expects no HTTP answer must not count it as a refused handshake.
var ErrBuildRequest = errors.New("build the request")

// Do sends one request through c and reads the whole answer. A "Host" entry of header becomes
// the request's Host (Go ignores it in the header map, which would silently send the URL's). An
// error means there was no HTTP answer at all (a refused handshake, a reset).
func Do(ctx context.Context, c *http.Client, method, rawURL string, header http.Header, body io.Reader, tweak ...func(*http.Request)) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %s %s: %w", ErrBuildRequest, method, rawURL, err)
	}
	for k, v := range header {
		if strings.EqualFold(k, "Host") {
			if len(v) > 0 {
				req.Host = v[0]
			}
			continue
		}
		req.Header[k] = v
	}
	for _, t := range tweak {
		t(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("read the answer to %s %s: %w", method, rawURL, err)
	}
	return Response{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: b, TLS: resp.TLS,
		Echo: DecodeEcho(resp.Header, b)}, nil
}

// Get is Do with GET, no body and the header given as name, value pairs.
func Get(ctx context.Context, c *http.Client, rawURL string, header ...string) (Response, error) {
	return Do(ctx, c, http.MethodGet, rawURL, Header(header...), nil)
}
