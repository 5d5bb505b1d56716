package alb

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ALB's timeouts (Application Load Balancer user guide: load balancer attributes, and the
// troubleshooting page's 408 and 504).
const (
	// DefaultIdleTimeout is idle_timeout.timeout_seconds' default: the longest a connection,
	// to a client or to a target, may carry no data before ALB gives up on it.
	DefaultIdleTimeout = 60 * time.Second
	// TargetConnectTimeout is how long ALB tries to connect to a target before answering 504.
	TargetConnectTimeout = 10 * time.Second
	// MaxResponseHeaderBytes is ALB's quota for a target's whole response header (32 KB).
	MaxResponseHeaderBytes = 32 << 10
	// AttrIdleTimeout is the load balancer attribute that sets the idle timeout, 1 to 4000 s.
	AttrIdleTimeout = "idle_timeout.timeout_seconds"
	// MaxIdleTimeout is idle_timeout.timeout_seconds' largest value.
	MaxIdleTimeout = 4000 * time.Second
	// AttrClientKeepAlive is the load balancer attribute that sets the HTTP client keepalive
	// duration, 60 to 604800 s: the longest ALB keeps a client connection, busy or not, before
	// closing it after a response.
	AttrClientKeepAlive = "client_keep_alive.seconds"
	// DefaultClientKeepAlive is client_keep_alive.seconds' default.
	DefaultClientKeepAlive = 3600 * time.Second
)

// lbAttributes are the load balancer attributes the emulator applies.
type lbAttributes struct {
	idle      time.Duration
	keepAlive time.Duration
}

// wholeSeconds parses an attribute of whole seconds within [lo, hi].
func wholeSeconds(where, key, value string, lo, hi, def int) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %s %q: give whole seconds from %d to %d (ALB's range; %d by default)", where, key, value, lo, hi, def)
	}
	return time.Duration(n) * time.Second, nil
}

// parseLBAttributes reads LoadBalancerAttributes; an attribute the emulator does not apply is an
// error naming it, so a setting is never silently ignored.
func parseLBAttributes(attrs []Attribute) (lbAttributes, error) {
	out := lbAttributes{idle: DefaultIdleTimeout, keepAlive: DefaultClientKeepAlive}
	seen := map[string]bool{}
	for i, a := range attrs {
		where := fmt.Sprintf("LoadBalancerAttributes[%d]", i)
		if seen[a.Key] {
			return out, fmt.Errorf("%s: %q is set twice", where, a.Key)
		}
		seen[a.Key] = true
		switch a.Key {
		case AttrIdleTimeout:
			d, err := wholeSeconds(where, a.Key, a.Value, 1, 4000, 60)
			if err != nil {
				return out, err
			}
			out.idle = d
		case AttrClientKeepAlive:
			d, err := wholeSeconds(where, a.Key, a.Value, 60, 604800, 3600)
			if err != nil {
				return out, err
			}
			out.keepAlive = d
		default:
			return out, fmt.Errorf("%s: the emulator does not apply the attribute %q (it applies %s and %s)", where, a.Key, AttrIdleTimeout, AttrClientKeepAlive)
		}
	}
	return out, nil
}

// clientKeepAlive is the client keepalive duration in force.
func (a *ALB) clientKeepAlive() time.Duration {
	if st := a.state.Load(); st != nil {
		return st.attrs.keepAlive
	}
	return DefaultClientKeepAlive
}

// activityConn is a client's TCP connection that remembers when it last carried data, either
// way, for the idle timeout, and bounds each write by the idle timeout: a client that stops
// reading a response sends and receives nothing, so ALB closes its connection, request in
// progress or not.
type activityConn struct {
	net.Conn
	last    atomic.Int64 // UnixNano of the last byte read or written
	timeout func() time.Duration
}

func newActivityConn(c net.Conn, timeout func() time.Duration) *activityConn {
	a := &activityConn{Conn: c, timeout: timeout}
	a.last.Store(time.Now().UnixNano())
	return a
}

// Read implements net.Conn.
func (c *activityConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// Write implements net.Conn; one write waits at most the idle timeout.
func (c *activityConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// idleWatch closes a client connection that carries no data for the idle timeout while no
// request is in progress: between requests, and while a request's header is still arriving
// (ALB: the load balancer closes the front-end connection if no data is sent or received within
// the idle timeout). A request in progress is bounded by the target's idle timeout, the body's
// read timeout and activityConn's write timeout instead. The timeout is read each time the connection goes idle, so a
// changed attribute applies from the next idle period on.
type idleWatch struct {
	raw     *activityConn
	conn    net.Conn // what is closed: the TLS connection, so the client gets close_notify
	timeout func() time.Duration

	mu     sync.Mutex
	timer  *time.Timer
	d      time.Duration
	busy   bool
	closed bool
}

// idle starts an idle period (a new connection, or the end of its last request).
func (w *idleWatch) idle() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.busy = false
	w.d = w.timeout()
	left := w.d - time.Since(time.Unix(0, w.raw.last.Load()))
	if w.timer == nil {
		w.timer = time.AfterFunc(left, w.fire)
	} else {
		w.timer.Reset(left)
	}
}

// active marks a request in progress.
func (w *idleWatch) active() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// stop ends the watch (the connection is closed or hijacked).
func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *idleWatch) fire() {
	w.mu.Lock()
	if w.busy || w.closed {
		w.mu.Unlock()
		return
	}
	if left := w.d - time.Since(time.Unix(0, w.raw.last.Load())); left > 0 {
		w.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	_ = w.conn.Close()
}

// idleTimeout is the idle timeout in force.
func (a *ALB) idleTimeout() time.Duration {
	if st := a.state.Load(); st != nil {
		return st.attrs.idle
	}
	return DefaultIdleTimeout
}

// albOwnedHeaders are the request headers ALB sets itself.
var albOwnedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"}

// dropSpoofs removes client headers that are an underscore spelling of a header ALB owns
// (X_Amzn_Mtls_Clientcert, X_Forwarded_For): targets in the CGI tradition read X_A and X-A alike
// as HTTP_X_A, so such a header would pose as ALB's own (mtlsgate rule, SPEC A-HDR-2).
func dropSpoofs(hdr http.Header, names HeaderNames) {
	var owned map[string]bool // made only for a request that has a name with an underscore
	for k := range hdr {
		if !strings.Contains(k, "_") {
			continue
		}
		if owned == nil {
			owned = map[string]bool{}
			for _, n := range append(names.All(), albOwnedHeaders...) {
				owned[hyphenForm(n)] = true
			}
		}
		if n := hyphenForm(k); owned[n] || strings.HasPrefix(n, mtlsHeaderPrefix) {
			delete(hdr, k)
		}
	}
}

// hyphenForm is a header name with underscores read as hyphens, canonicalised.
func hyphenForm(name string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
}

// targetErrorStatus is ALB's answer when forwarding to a target fails: 504 when the target did
// not connect within 10 s or went quiet past the idle timeout, 502 otherwise.
func targetErrorStatus(err error) (int, string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout, StatusText(http.StatusGatewayTimeout)
	}
	return http.StatusBadGateway, StatusText(http.StatusBadGateway)
}
