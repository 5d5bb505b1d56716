package kong

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

// defaultClientBodyTimeout is nginx's client_body_timeout default: the longest wait between two
// successive reads of a request body.
const defaultClientBodyTimeout = 60 * time.Second

// clientBodyTimeout reads client_body_timeout from kong.conf's injected nginx directives
// (nginx_proxy_ for the proxy server block wins over nginx_http_), in nginx's time syntax.
func clientBodyTimeout(conf *kongconf.Config) (time.Duration, error) {
	key, raw, ok := nginxDirective(conf, "client_body_timeout")
	if !ok {
		return defaultClientBodyTimeout, nil
	}
	d, err := parseNginxTime(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s = %q: give an nginx time above zero such as 60s, 500ms or 1m", key, raw)
	}
	return d, nil
}

// nginx's defaults for the client side of a server block; Kong's template sets neither.
const (
	// defaultClientHeaderTimeout is client_header_timeout: from the TCP connect, the longest wait
	// for the TLS handshake and then the request header block (nginx arms it on accept and in
	// ngx_http_ssl_handshake).
	defaultClientHeaderTimeout = 60 * time.Second
	// defaultKeepaliveTimeout is keepalive_timeout: how long an idle keep-alive client
	// connection is kept open waiting for its next request.
	defaultKeepaliveTimeout = 75 * time.Second
	// defaultSendTimeout is send_timeout: the longest one write of a response to the client may
	// wait (nginx: "only between two successive write operations"); past it nginx closes the
	// connection, so a client that stops reading cannot pin the gateway.
	defaultSendTimeout = 60 * time.Second
)

// clientTimeouts are one server block's client-side timeouts.
type clientTimeouts struct {
	header, keepalive, send time.Duration
}

// serverBlockPrefixes maps a listener role to kong.conf's prefix for its nginx server block.
var serverBlockPrefixes = map[string]string{"proxy": "nginx_proxy_", "admin": "nginx_admin_", "status": "nginx_status_"}

// clientTimeoutsFor reads client_header_timeout, keepalive_timeout and send_timeout for role's listeners from
// kong.conf's injected directives: the server block's own (nginx_proxy_, nginx_admin_,
// nginx_status_) wins over nginx_http_, which every server block inherits.
func clientTimeoutsFor(conf *kongconf.Config, role string) (clientTimeouts, error) {
	out := clientTimeouts{header: defaultClientHeaderTimeout, keepalive: defaultKeepaliveTimeout, send: defaultSendTimeout}
	find := func(directive string) (string, string, bool) {
		for _, key := range []string{serverBlockPrefixes[role] + directive, "nginx_http_" + directive} {
			if v, ok := conf.Values[key]; ok {
				return key, v, true
			}
		}
		return "", "", false
	}
	if key, raw, ok := find("client_header_timeout"); ok {
		d, err := parseNginxTime(raw)
		if err != nil || d <= 0 {
			return out, fmt.Errorf("%s = %q: give an nginx time above zero such as 60s, 500ms or 1m", key, raw)
		}
		out.header = d
	}
	if key, raw, ok := find("keepalive_timeout"); ok {
		f := strings.Fields(raw)
		if len(f) != 1 {
			return out, fmt.Errorf("%s = %q: give one nginx time above zero such as 75s; mtlsgate does not send the optional Keep-Alive header timeout", key, raw)
		}
		d, err := parseNginxTime(f[0])
		if err != nil || d <= 0 {
			return out, fmt.Errorf("%s = %q: give an nginx time above zero such as 75s or 1m (mtlsgate does not apply 0, keep-alive off)", key, raw)
		}
		out.keepalive = d
	}
	if key, raw, ok := find("send_timeout"); ok {
		d, err := parseNginxTime(raw)
		if err != nil || d <= 0 {
			return out, fmt.Errorf("%s = %q: give an nginx time above zero such as 60s, 500ms or 1m", key, raw)
		}
		out.send = d
	}
	return out, nil
}

// nginxDirective finds an nginx directive injected through kong.conf for the proxy: the
// nginx_proxy_ (server block) form wins over nginx_http_. It returns the kong.conf key too.
func nginxDirective(conf *kongconf.Config, directive string) (key, value string, ok bool) {
	for _, key := range []string{"nginx_proxy_" + directive, "nginx_http_" + directive} {
		if v, ok := conf.Values[key]; ok {
			return key, v, true
		}
	}
	return "", "", false
}

// parseNginxTime reads an nginx time value: a number with an optional unit (ms, s, m, h, d, w;
// none means seconds), or several such parts ("1m30s").
func parseNginxTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty time")
	}
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, fmt.Errorf("invalid time %q", s)
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		unit := time.Second
		matched := s == ""
		for _, u := range units {
			if strings.HasPrefix(s, u.suffix) {
				unit, s, matched = u.d, s[len(u.suffix):], true
				break
			}
		}
		if !matched {
			return 0, fmt.Errorf("invalid time unit in %q", s)
		}
		total += time.Duration(n) * unit
		if total > 365*24*time.Hour {
			return 0, errors.New("time too large")
		}
	}
	return total, nil
}

// validHeaderName is nginx's rule for a request header name under Kong: ignore_invalid_headers
// on (nginx's default) and underscores_in_headers on (Kong's nginx_kong.lua template sets it):
// letters, digits, hyphens and underscores. Other headers are dropped before anything sees them.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// dropInvalidHeaders removes the request headers nginx ignores (see validHeaderName), and the
// underscore spellings of the gateway's identity headers (X_Consumer_ID): Kong forwards
// underscores, and a CGI-style upstream reads X_Consumer_ID as X-Consumer-ID (HTTP_X_CONSUMER_ID),
// so such a header would pose as the gateway's own (mtlsgate rule, SPEC K-MTLS-6).
func dropInvalidHeaders(h http.Header) {
	for name := range h {
		if !validHeaderName(name) {
			delete(h, name)
			continue
		}
		if strings.Contains(name, "_") && isIdentityHeader(http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
			delete(h, name)
		}
	}
}

// isIdentityHeader reports whether canonical is one of the headers only the gateway may set.
func isIdentityHeader(canonical string) bool {
	for _, h := range identityHeaders {
		if h == canonical {
			return true
		}
	}
	return false
}

// defaultProxyBufferSize is nginx's proxy_buffer_size default (one memory page): the most a
// response's status line and headers may take. Kong does not change it; a larger header is
// nginx's "upstream sent too big header", a 502.
const defaultProxyBufferSize = 4 << 10

// proxyBufferSize reads proxy_buffer_size from kong.conf's injected nginx directives, in nginx's
// size syntax (4k, 160k, 1m).
func proxyBufferSize(conf *kongconf.Config) (int64, error) {
	key, raw, ok := nginxDirective(conf, "proxy_buffer_size")
	if !ok {
		return defaultProxyBufferSize, nil
	}
	n, err := parseNginxSize(raw)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s = %q: give an nginx size above zero such as 8k, 160k or 1m", key, raw)
	}
	return n, nil
}

// parseNginxSize reads an nginx size: a number with an optional k or m suffix.
func parseNginxSize(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<30/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
