// Package kongconf reads kong.conf and KONG_* environment variables the way Kong's conf_loader
// does (comments, `\#` escapes, on/off booleans, lists, listener flags, defaults < file < env), so a
// user's kong.conf drives mtlsgate's reference gateway unchanged. Unlike Kong, which drops unknown
// keys silently, an unknown key is an error that names it: a typo must not pass for a setting.
package kongconf

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// Listener is one entry of proxy_listen, admin_listen or status_listen.
type Listener struct {
	// Address is host:port as given (IPv6 in brackets).
	Address       string
	SSL           bool
	HTTP2         bool
	ProxyProtocol bool
	// Flags are the remaining nginx flags (reuseport, backlog=N, …), accepted and not acted on.
	Flags []string
}

// Config is what mtlsgate's reference gateway acts on, taken from defaults, kong.conf and env.
type Config struct {
	ProxyListen, AdminListen, StatusListen []Listener

	SSLCert, SSLCertKey           []string
	AdminSSLCert, AdminSSLCertKey []string
	ClientSSL                     bool
	ClientSSLCert                 string
	ClientSSLCertKey              string
	SSLCipherSuite                string
	SSLCiphers                    string
	SSLProtocols                  []string

	LuaSSLTrustedCertificate []string
	LuaSSLVerifyDepth        int

	// ProxySSLVerify, ProxySSLTrustedCertificate and ProxySSLVerifyDepth come from the injected
	// nginx directives nginx_proxy_proxy_ssl_verify (or nginx_http_…) and friends.
	ProxySSLVerify             bool
	ProxySSLTrustedCertificate string
	ProxySSLVerifyDepth        int

	// Headers and HeadersUpstream are the enabled header names, canonical (Via, Server, …).
	Headers         []string
	HeadersUpstream []string
	TrustedIPs      []string

	Database          string
	DeclarativeConfig string

	UpstreamKeepalivePoolSize   int
	UpstreamKeepaliveIdleTimout int

	// Values holds every property that is set, after precedence, for the Admin API's
	// "configuration" block.
	Values map[string]string
}

// defaults are the Kong 3.x defaults of the properties Config reads.
func defaults() map[string]string {
	return map[string]string{
		"proxy_listen":                    "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
		"admin_listen":                    "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384",
		"status_listen":                   "127.0.0.1:8007 reuseport backlog=16384",
		"ssl_cipher_suite":                "intermediate",
		"ssl_protocols":                   "TLSv1.2 TLSv1.3",
		"client_ssl":                      "off",
		"lua_ssl_trusted_certificate":     "system",
		"lua_ssl_verify_depth":            "1",
		"headers":                         "server_tokens, latency_tokens, x-kong-request-id",
		"headers_upstream":                "x-kong-request-id",
		"database":                        "postgres",
		"real_ip_header":                  "X-Real-IP",
		"upstream_keepalive_pool_size":    "512",
		"upstream_keepalive_max_requests": "10000",
		"upstream_keepalive_idle_timeout": "60",
	}
}

// Load reads the kong.conf at path ("" for defaults only) and applies environ (KONG_* variables,
// as os.Environ gives them).
func Load(path string, environ []string) (*Config, error) {
	if path == "" {
		return Parse(strings.NewReader(""), "(defaults)", environ)
	}
	b, err := regularfile.Read(path, regularfile.MaxConfig)
	if err != nil {
		return nil, fmt.Errorf("no file at: %s: %w", path, err)
	}
	return Parse(bytes.NewReader(b), path, environ)
}

// Parse reads kong.conf text named name and applies environ on top.
func Parse(src io.Reader, name string, environ []string) (*Config, error) {
	values := defaults()
	var errs []error
	fileValues, err := readFile(src, name)
	if err != nil {
		return nil, err
	}
	for _, kv := range fileValues {
		if err := checkKey(kv.key); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, kv.line, err))
			continue
		}
		values[kv.key] = kv.value
	}
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(k, "KONG_") {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(k, "KONG_"))
		if checkKey(key) == nil { // Kong reads env only for properties it knows
			values[key] = strings.TrimSpace(v)
		}
	}
	for k, v := range values {
		if v == "NONE" || v == "" {
			delete(values, k)
		}
	}
	c, cerrs := build(values)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

type keyValue struct {
	key, value string
	line       int
}

var unescapedComment = regexp.MustCompile(`\s*(^|[^\\])#.*$`)

// readFile applies Penlight's config reader rules as Kong configures it: blank lines and lines
// starting with # or ; are skipped, a trailing \ continues a line, the key is split at the first
// '=', non-alphanumerics in keys become '_', a trailing comment starts at the first unescaped '#',
// and \# is a literal '#'.
func readFile(src io.Reader, name string) ([]keyValue, error) {
	var out []keyValue
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	lineNo, pending, pendingLine := 0, "", 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			if pending == "" {
				pendingLine = lineNo
			}
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		start := lineNo
		if pending != "" {
			line, start, pending = pending+line, pendingLine, ""
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not of the form key = value", name, start, trimmed)
		}
		v = unescapedComment.ReplaceAllString(v, "$1")
		v = strings.ReplaceAll(v, `\#`, "#")
		out = append(out, keyValue{key: variabilize(strings.TrimSpace(k)), value: strings.TrimSpace(v), line: start})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("could not load config file: %w", err)
	}
	return out, nil
}

func variabilize(k string) string {
	b := []byte(strings.ToLower(k))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// checkKey accepts Kong's properties and injected-directive namespaces; anything else is a typo.
func checkKey(k string) error {
	if slices.Contains(kongKeys(), k) || slices.Contains(enterpriseKeys(), k) {
		return nil
	}
	for _, p := range dynamicPrefixes() {
		if strings.HasPrefix(k, p) && len(k) > len(p) {
			return nil
		}
	}
	msg := fmt.Sprintf("unknown property %q", shorten(k))
	if s := closest(k); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return errors.New(msg + " (remove it or fix its name)")
}

// maxSuggestLen bounds the keys closest compares: no Kong property is longer, so a longer key
// has no close match, and the quadratic distance is never computed on it.
const maxSuggestLen = 64

// shorten cuts a key for an error message, so a megabyte-long key gives a one-line error.
func shorten(k string) string {
	if len(k) <= maxSuggestLen {
		return k
	}
	return k[:maxSuggestLen] + "…"
}

// closest suggests the known key with the smallest edit distance, if it is close enough. The work
// is bounded: keys longer than maxSuggestLen are not compared, and a candidate whose length alone
// puts it too far is skipped.
func closest(k string) string {
	best, bestD := "", 4
	if len(k) > maxSuggestLen {
		return ""
	}
	for _, cand := range kongKeys() {
		if diff := len(k) - len(cand); diff >= bestD || -diff >= bestD {
			continue
		}
		if d := editDistance(k, cand); d < bestD {
			best, bestD = cand, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func build(v map[string]string) (*Config, []error) {
	c := &Config{Values: v}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, l := range []struct {
		key string
		dst *[]Listener
	}{{"proxy_listen", &c.ProxyListen}, {"admin_listen", &c.AdminListen}, {"status_listen", &c.StatusListen}} {
		raw, set := v[l.key]
		if !set && l.key != "status_listen" {
			fail("%s %s", l.key, listenUsage)
			continue
		}
		ls, err := ParseListeners(l.key, raw)
		if err != nil {
			errs = append(errs, err)
		}
		*l.dst = ls
	}

	c.SSLCert, c.SSLCertKey = list(v["ssl_cert"]), list(v["ssl_cert_key"])
	c.AdminSSLCert, c.AdminSSLCertKey = list(v["admin_ssl_cert"]), list(v["admin_ssl_cert_key"])
	errs = append(errs, checkPairs("", c.SSLCert, c.SSLCertKey, anySSL(c.ProxyListen))...)
	errs = append(errs, checkPairs("admin_", c.AdminSSLCert, c.AdminSSLCertKey, anySSL(c.AdminListen))...)

	var err error
	if c.ClientSSL, err = boolean("client_ssl", v["client_ssl"]); err != nil {
		errs = append(errs, err)
	}
	c.ClientSSLCert, c.ClientSSLCertKey = v["client_ssl_cert"], v["client_ssl_cert_key"]
	if c.ClientSSL {
		switch {
		case c.ClientSSLCert != "" && c.ClientSSLCertKey == "":
			fail("client_ssl_cert_key must be specified")
		case c.ClientSSLCert == "" && c.ClientSSLCertKey != "":
			fail("client_ssl_cert must be specified")
		case c.ClientSSLCert == "" && c.ClientSSLCertKey == "":
			fail("client_ssl_cert must be specified")
			fail("client_ssl_cert_key must be specified")
		default:
			if _, err := ReadPEM(c.ClientSSLCert); err != nil {
				fail("client_ssl_cert: failed loading certificate from %s", c.ClientSSLCert)
			}
			if _, err := ReadPEM(c.ClientSSLCertKey); err != nil {
				fail("client_ssl_cert_key: failed loading key from %s", c.ClientSSLCertKey)
			}
		}
	}

	c.SSLCipherSuite, c.SSLCiphers = v["ssl_cipher_suite"], v["ssl_ciphers"]
	c.SSLProtocols = strings.Fields(v["ssl_protocols"])
	if !slices.Contains([]string{"modern", "intermediate", "old", "fips", "custom"}, c.SSLCipherSuite) {
		fail("Undefined cipher suite %s", c.SSLCipherSuite)
	}
	for _, p := range c.SSLProtocols {
		if !slices.Contains([]string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}, p) {
			fail("ssl_protocols has an invalid value: '%s' (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", p)
		}
	}

	c.LuaSSLTrustedCertificate = list(v["lua_ssl_trusted_certificate"])
	for _, t := range c.LuaSSLTrustedCertificate {
		if t == "system" {
			continue
		}
		if _, err := ReadPEM(t); err != nil {
			fail("lua_ssl_trusted_certificate: failed loading certificate from %s", t)
		}
	}
	c.LuaSSLVerifyDepth, err = integer("lua_ssl_verify_depth", v["lua_ssl_verify_depth"], 1)
	if err != nil {
		errs = append(errs, err)
	}

	depthSet := false
	for _, ns := range []string{"nginx_proxy_", "nginx_http_"} {
		if raw, ok := v[ns+"proxy_ssl_verify"]; ok && !c.ProxySSLVerify {
			if c.ProxySSLVerify, err = boolean(ns+"proxy_ssl_verify", raw); err != nil {
				errs = append(errs, err)
			}
		}
		if raw, ok := v[ns+"proxy_ssl_trusted_certificate"]; ok && c.ProxySSLTrustedCertificate == "" {
			c.ProxySSLTrustedCertificate = raw
			if _, err := ReadPEM(raw); err != nil {
				fail("%sproxy_ssl_trusted_certificate: failed loading certificate from %s", ns, raw)
			}
		}
		if raw, ok := v[ns+"proxy_ssl_verify_depth"]; ok && !depthSet {
			depthSet = true
			if c.ProxySSLVerifyDepth, err = integer(ns+"proxy_ssl_verify_depth", raw, 1); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !depthSet {
		c.ProxySSLVerifyDepth = 1 // nginx's proxy_ssl_verify_depth default
	}

	if c.Headers, err = headers("headers", v["headers"], headerTokens()); err != nil {
		errs = append(errs, err)
	}
	if c.HeadersUpstream, err = headers("headers_upstream", v["headers_upstream"], map[string][]string{"x-kong-request-id": {"X-Kong-Request-Id"}}); err != nil {
		errs = append(errs, err)
	}
	c.TrustedIPs = list(v["trusted_ips"])
	for _, ip := range c.TrustedIPs {
		if ip == "unix:" {
			continue
		}
		if net.ParseIP(ip) == nil {
			if _, _, err := net.ParseCIDR(ip); err != nil {
				fail("trusted_ips must be a comma separated list in the form of IPv4 or IPv6 address or CIDR block or 'unix:', got '%s'", ip)
			}
		}
	}
	c.Database = v["database"]
	if !slices.Contains([]string{"postgres", "off"}, c.Database) {
		fail("database has an invalid value: '%s' (postgres, off)", c.Database)
	}
	c.DeclarativeConfig = v["declarative_config"]
	if c.UpstreamKeepalivePoolSize, err = integer("upstream_keepalive_pool_size", v["upstream_keepalive_pool_size"], 0); err != nil {
		errs = append(errs, err)
	}
	if c.UpstreamKeepaliveIdleTimout, err = integer("upstream_keepalive_idle_timeout", v["upstream_keepalive_idle_timeout"], 0); err != nil {
		errs = append(errs, err)
	}
	return c, errs
}

func anySSL(ls []Listener) bool {
	return slices.ContainsFunc(ls, func(l Listener) bool { return l.SSL })
}

// checkPairs applies Kong's ssl_cert/ssl_cert_key checks for a listener family with an ssl flag.
func checkPairs(prefix string, certs, keys []string, ssl bool) []error {
	if !ssl {
		return nil
	}
	var errs []error
	switch {
	case len(certs) > 0 && len(keys) == 0:
		return []error{fmt.Errorf("%sssl_cert_key must be specified", prefix)}
	case len(certs) == 0 && len(keys) > 0:
		return []error{fmt.Errorf("%sssl_cert must be specified", prefix)}
	case len(certs) != len(keys):
		return []error{fmt.Errorf("%sssl_cert was specified %d times while %sssl_cert_key was specified %d times", prefix, len(certs), prefix, len(keys))}
	}
	for i := range certs {
		if _, err := ReadPEM(certs[i]); err != nil {
			errs = append(errs, fmt.Errorf("%sssl_cert: failed loading certificate from %s", prefix, certs[i]))
		}
		if _, err := ReadPEM(keys[i]); err != nil {
			errs = append(errs, fmt.Errorf("%sssl_cert_key: failed loading key from %s", prefix, keys[i]))
		}
	}
	return errs
}

// ReadPEM returns the PEM a property names: inline PEM, a file path, or base64-encoded PEM, as
// Kong accepts for ssl_cert, client_ssl_cert and friends.
func ReadPEM(value string) ([]byte, error) {
	if strings.Contains(value, "-----BEGIN") {
		return []byte(strings.ReplaceAll(value, `\n`, "\n")), nil
	}
	if b, err := regularfile.Read(value, regularfile.MaxPEM); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(value); err == nil && strings.Contains(string(b), "-----BEGIN") {
		return b, nil
	}
	return nil, fmt.Errorf("failed loading from %s", value)
}

const listenUsage = "must be of form: [off] | <ip>:<port> [ssl] [http2] [proxy_protocol] [deferred] [bind] [reuseport] [backlog=%d+] [ipv6only=on] [ipv6only=off] [so_keepalive=on] [so_keepalive=off] [so_keepalive=%w*:%w*:%d*], [... next entry ...]"

var (
	flagPattern = regexp.MustCompile(`^(ssl|http2|proxy_protocol|deferred|bind|reuseport|backlog=\d+|ipv6only=(on|off)|so_keepalive=(on|off|\w*:\w*:\d*))$`)
	addrPattern = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(\d+)$`)
)

// ParseListeners parses a listen property ("0.0.0.0:8443 http2 ssl, …"); "off" as the first entry
// means none. Errors use Kong's usage message, naming the property.
func ParseListeners(key, raw string) ([]Listener, error) {
	entries := list(raw)
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s %s", key, listenUsage)
	}
	if entries[0] == "off" {
		return nil, nil
	}
	var out []Listener
	for _, e := range entries {
		l := Listener{}
		for _, tok := range strings.Fields(e) {
			switch {
			case flagPattern.MatchString(tok):
				switch tok {
				case "ssl":
					l.SSL = true
				case "http2":
					l.HTTP2 = true
				case "proxy_protocol":
					l.ProxyProtocol = true
				default:
					l.Flags = append(l.Flags, tok)
				}
			case l.Address == "" && addrPattern.MatchString(tok):
				l.Address = tok
			default:
				return nil, fmt.Errorf("%s %s (bad entry %q)", key, listenUsage, e)
			}
		}
		if l.Address == "" {
			return nil, fmt.Errorf("%s %s (bad entry %q)", key, listenUsage, e)
		}
		if port, _ := strconv.Atoi(addrPattern.FindStringSubmatch(l.Address)[2]); port > 65535 {
			return nil, fmt.Errorf("%s: port %d of %q is out of range (0-65535)", key, port, l.Address)
		}
		out = append(out, l)
	}
	return out, nil
}

// list splits a comma-separated property, trimming each element.
func list(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// boolean reads on/off/true/false. Kong reads anything else as off without a word; mtlsgate says
// so instead, since "yes" meaning off is a trap.
func boolean(key, raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "on", "true":
		return true, nil
	case "off", "false", "":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean: '%s' (use on or off)", key, raw)
}

func integer(key, raw string, def int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s is not a number: '%s'", key, raw)
	}
	return n, nil
}

// headerTokens maps Kong's headers tokens to the header names they enable.
func headerTokens() map[string][]string {
	return map[string][]string{
		"server_tokens":           {"Via", "Server"},
		"latency_tokens":          {"X-Kong-Proxy-Latency", "X-Kong-Response-Latency", "X-Kong-Admin-Latency", "X-Kong-Upstream-Latency"},
		"via":                     {"Via"},
		"server":                  {"Server"},
		"x-kong-proxy-latency":    {"X-Kong-Proxy-Latency"},
		"x-kong-response-latency": {"X-Kong-Response-Latency"},
		"x-kong-admin-latency":    {"X-Kong-Admin-Latency"},
		"x-kong-upstream-latency": {"X-Kong-Upstream-Latency"},
		"x-kong-upstream-status":  {"X-Kong-Upstream-Status"},
		"x-kong-request-id":       {"X-Kong-Request-Id"},
	}
}

func headers(key, raw string, tokens map[string][]string) ([]string, error) {
	entries := list(raw)
	if len(entries) > 0 && strings.EqualFold(entries[0], "off") {
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		names, ok := tokens[strings.ToLower(e)]
		if !ok {
			return nil, fmt.Errorf("%s: invalid entry '%s'", key, e)
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// Enabled reports whether a response header (Via, X-Kong-Request-Id, …) is switched on.
func (c *Config) Enabled(header string) bool { return slices.Contains(c.Headers, header) }
