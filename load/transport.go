package load

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// handshakeMarker prefixes the error of a request whose TLS handshake failed, so the result
// (vegeta keeps only the error's text) says so without guessing from the message.
const handshakeMarker = "handshake failure: "

// handshakeError marks a transport error as a failed TLS handshake.
type handshakeError struct{ err error }

func (e handshakeError) Error() string { return handshakeMarker + e.err.Error() }
func (e handshakeError) Unwrap() error { return e.err }

// isTLSFailure reports whether err came from the TLS layer: an alert from the server, a record
// that is not TLS, or a local TLS error (a protocol version mismatch, say).
func isTLSFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return true
	}
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	if errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) {
		return true
	}
	return strings.Contains(err.Error(), "tls: ")
}

// counters are one class's handshake counts; the timeline buckets are shared by all classes.
type counters struct {
	full, resumed atomic.Uint64
}

// classTransport is one class's connection pool: a TLS identity is fixed per connection, so each
// class gets its own.
type classTransport struct {
	rt roundTripCloser
	hs *counters
}

// roundTripCloser is a class's client: net/http's Transport for HTTP/2, h1Transport otherwise.
type roundTripCloser interface {
	http.RoundTripper
	CloseIdleConnections()
}

// router sends each request through its class's transport; the class is the index in the URL
// fragment, which never goes on the wire but stays in vegeta's result.
// Requests in flight when a run is cancelled end by their own timeout (Plan.Timeout): the
// http.Client's deadline lives in the request's context, which the router must not replace.
type router struct {
	classes []classTransport
}

func (r *router) RoundTrip(req *http.Request) (*http.Response, error) {
	i, ok := classIndex(req.URL.Fragment)
	if !ok || i >= len(r.classes) {
		return nil, errors.New("load: request without a class tag")
	}
	resp, err := r.classes[i].rt.RoundTrip(req)
	if err != nil && isTLSFailure(err) {
		return nil, handshakeError{err}
	}
	return resp, err
}

// close drops idle connections.
func (r *router) close() {
	for _, c := range r.classes {
		c.rt.CloseIdleConnections()
	}
}

// classIndex parses the decimal class tag without allocating.
func classIndex(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// classOfURL is the class tag of a result's URL (after the last '#').
func classOfURL(u string) (int, bool) {
	i := strings.LastIndexByte(u, '#')
	if i < 0 {
		return 0, false
	}
	return classIndex(u[i+1:])
}

// timeline counts events into fixed-width buckets from the start of a run, lock-free.
type timeline struct {
	start time.Time
	width time.Duration
	b     []atomic.Uint64
}

func newTimeline(start time.Time, width, span time.Duration) *timeline {
	n := int(span/width) + 2
	return &timeline{start: start, width: width, b: make([]atomic.Uint64, n)}
}

func (t *timeline) add(at time.Time) { t.addOffset(at.Sub(t.start)) }

func (t *timeline) addOffset(d time.Duration) {
	i := int(d / t.width)
	if i < 0 {
		i = 0
	}
	if i >= len(t.b) {
		i = len(t.b) - 1
	}
	t.b[i].Add(1)
}

func (t *timeline) values() []uint64 {
	out := make([]uint64, len(t.b))
	for i := range t.b {
		out[i] = t.b[i].Load()
	}
	return out
}

// newClassTransport builds the transport of one class for the plan's mode. Handshakes are
// counted in VerifyConnection, which crypto/tls calls on every handshake, full or resumed.
func newClassTransport(p *Plan, c Class, serverName string, hsLine *timeline) classTransport {
	hs := &counters{}
	conf := &tls.Config{
		RootCAs:            p.RootCAs,
		InsecureSkipVerify: p.RootCAs == nil, //nolint:gosec // like curl -k: the gateway's view of the client is under test
		ServerName:         serverName,
		MaxVersion:         c.MaxVersion,
		NextProtos:         []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.DidResume {
				hs.resumed.Add(1)
			} else {
				hs.full.Add(1)
			}
			hsLine.add(time.Now())
			return nil
		},
	}
	if c.Certificate != nil {
		cert := c.Certificate
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	switch p.Mode {
	case Resume:
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(256)
	case Handshake:
		conf.SessionTicketsDisabled = true
	}
	dialer := &net.Dialer{Timeout: p.Timeout, KeepAlive: 30 * time.Second}
	// Room for every worker's connection and one being dialled beside it, so a busy moment does
	// not close connections that keep-alive would reuse.
	maxIdle := 2 * int(p.MaxWorkers)
	if !p.HTTP2 {
		return classTransport{hs: hs, rt: &h1Transport{conf: conf, dialer: dialer, timeout: p.Timeout,
			keepAlive: p.Mode == KeepAlive, maxIdle: maxIdle}}
	}
	rt := &http.Transport{
		Proxy:                 nil, // never through a proxy: traffic stays on loopback
		DialContext:           dialer.DialContext,
		TLSClientConfig:       conf,
		TLSHandshakeTimeout:   p.Timeout,
		DisableKeepAlives:     p.Mode != KeepAlive,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: p.Timeout,
		DisableCompression:    true,
	}
	conf.NextProtos = []string{"h2"}
	rt.Protocols = new(http.Protocols)
	rt.Protocols.SetHTTP2(true)
	return classTransport{rt: rt, hs: hs}
}
