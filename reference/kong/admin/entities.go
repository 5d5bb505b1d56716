package admin

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// schema describes one entity type of the Admin API.
type schema struct {
	name string // table and endpoint name: "services"
	// endpointKey is the unique field an entity can be addressed by besides its id.
	endpointKey string
	fields      []*field
	// uniqueTogether lists composite keys (Kong cache keys) that must be unique.
	uniqueTogether [][]string
	// expand turns shorthand input (a service's url) into fields; it may add field errors.
	expand func(in map[string]any, errs fieldErrors) map[string]any
	// check runs entity-level validation on the normalized entity.
	check func(e Entity, errs fieldErrors)
	// parent is the foreign field that nested endpoints fill in (consumer for credentials).
	parent string
}

func (s *schema) field(name string) *field { return find(s.fields, name) }

// protocolsAll are the protocols a service or route may name.
// Kong's open-source constants.PROTOCOLS (ws and wss are Kong Enterprise's).
var protocolsAll = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

func schemas(plugins map[string]*PluginSchema) map[string]*schema {
	all := []*schema{
		caCertificatesSchema(), certificatesSchema(), snisSchema(), servicesSchema(), routesSchema(),
		consumersSchema(), pluginsSchema(plugins), mtlsCredentialsSchema(), aclsSchema(), upstreamsSchema(), targetsSchema(),
	}
	out := map[string]*schema{}
	for _, s := range all {
		out[s.name] = s
	}
	return out
}

func caCertificatesSchema() *schema {
	return &schema{
		name: "ca_certificates",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("cert").isRequired().validate(checkCert),
			str("cert_digest").isUnique(),
			tags(),
		},
		check: checkCACert,
	}
}

// checkCACert is ca_certificates.lua's custom entity check, in its order: one certificate, not
// expired, a CA. Its errors are entity-level ("@entity"), not errors of the cert field.
func checkCACert(e Entity, errs fieldErrors) {
	s, _ := e["cert"].(string)
	if first := strings.Index(s, certTag); first >= 0 && strings.Contains(s[first+len(certTag):], certTag) {
		errs.entity("please submit only one certificate at a time")
		return
	}
	certs, msg := parseCerts(s)
	if msg != "" {
		return // the cert field's own validator has said so
	}
	c := certs[0]
	if time.Now().After(c.NotAfter) {
		errs.entity(`certificate expired, "Not After" time is in the past`)
		return
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		errs.entity(`certificate does not appear to be a CA because it is missing the "CA" basic constraint`)
	}
}

const certTag = "-----BEGIN CERTIFICATE-----"

// parseCerts reads every CERTIFICATE block of a PEM string.
func parseCerts(s string) ([]*x509.Certificate, string) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, "invalid certificate: " + err.Error()
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, "invalid certificate: not a PEM-encoded X.509 certificate"
	}
	return certs, ""
}

func certificatesSchema() *schema {
	return &schema{
		name: "certificates",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("cert").isRequired().validate(checkCert),
			str("key").isRequired().validate(checkKey),
			str("cert_alt").validate(checkCert),
			str("key_alt").validate(checkKey),
			tags(),
			// snis is a shorthand: it creates and lists SNI entities, it is not stored here.
			strArray("snis").elemCheck(checkSNIName),
		},
		check: checkCertificate,
	}
}

func checkCert(v any) string {
	_, msg := parseCerts(v.(string))
	return msg
}

func checkKey(v any) string {
	if _, err := parseKey(v.(string)); err != nil {
		return "invalid key: " + err.Error()
	}
	return ""
}

// checkCertificate runs certificates.lua's entity checks in order, collecting every failure as an
// entity-level error: cert_alt and key_alt are mutually required, each key matches its
// certificate, and the two certificates differ in key type.
func checkCertificate(e Entity, errs fieldErrors) {
	if (e["cert_alt"] == nil) != (e["key_alt"] == nil) {
		errs.entity("all or none of these fields must be set: 'cert_alt', 'key_alt'")
	}
	matches := func(certField, keyField string) (bool, bool) {
		c, _ := e[certField].(string)
		k, _ := e[keyField].(string)
		certs, msg := parseCerts(c)
		key, err := parseKey(k)
		if msg != "" || err != nil {
			return false, false
		}
		return publicKeysEqual(certs[0].PublicKey, key.Public()), true
	}
	if ok, checked := matches("cert", "key"); checked && !ok {
		errs.entity("certificate does not match key")
	}
	if ok, checked := matches("cert_alt", "key_alt"); checked && !ok {
		errs.entity("alternative certificate does not match key")
	}
	c1, _ := parseCerts(String(e["cert"]))
	c2, _ := parseCerts(String(e["cert_alt"]))
	if len(c1) > 0 && len(c2) > 0 && c1[0].PublicKeyAlgorithm == c2[0].PublicKeyAlgorithm {
		errs.entity("certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type")
	}
}

var sniPattern = regexp.MustCompile(`^([a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?\.?$`)

// checkSNIName is Kong's typedefs.wildcard_host validator, checks in its order: the wildcard is
// the first or last character, there is only one, then the name is a host without a port that
// is not an IP address.
func checkSNIName(v any) string {
	s := v.(string)
	if i := strings.IndexByte(s, '*'); i >= 0 {
		if i != 0 && i != len(s)-1 {
			return "wildcard must be leftmost or rightmost character"
		}
		if strings.Count(s, "*") > 1 {
			return "only one wildcard must be specified"
		}
		s = strings.Replace(s, "*", "wildcard", 1)
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return "must not have a port"
	}
	if net.ParseIP(strings.Trim(s, "[]")) != nil {
		return "must not be an IP"
	}
	if !sniPattern.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

func snisSchema() *schema {
	return &schema{
		name:        "snis",
		endpointKey: "name",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("name").isRequired().isUnique().validate(checkSNIName),
			tags(),
			foreign("certificate", "certificates").isRequired().cascade(),
		},
		parent: "certificate",
	}
}

func servicesSchema() *schema {
	return &schema{
		name:        "services",
		endpointKey: "name",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("name").isUnique().validate(checkName),
			integer("retries").withDefault(int64(5)).in(0, 32767),
			str("protocol").isRequired().withDefault("http").one(protocolsAll...),
			str("host").isRequired().validate(checkHost),
			integer("port").isRequired().withDefault(int64(80)).in(0, 65535),
			str("path").validate(checkPath),
			integer("connect_timeout").withDefault(int64(60000)).in(1, math32),
			integer("write_timeout").withDefault(int64(60000)).in(1, math32),
			integer("read_timeout").withDefault(int64(60000)).in(1, math32),
			tags(),
			foreign("client_certificate", "certificates"),
			boolean("tls_verify"),
			integer("tls_verify_depth").in(0, 64),
			strArray("ca_certificates").elemUUID(),
			boolean("enabled").withDefault(true),
		},
		expand: expandServiceURL,
		check:  checkService,
	}
}

const math32 = 2147483646

// expandServiceURL is services.lua's url shorthand: the URL is split as LuaSocket's url.parse
// does and becomes protocol (the scheme, else http), host (null when there is none), port (the
// URL's, else 80 or 443 by protocol) and path (null when empty), each then validated as if
// given on its own: "invalid url" → host: required field missing; path: should start with: /.
func expandServiceURL(in map[string]any, errs fieldErrors) map[string]any {
	raw, ok := in["url"]
	if !ok {
		return in
	}
	out := map[string]any{}
	for k, v := range in {
		if k != "url" {
			out[k] = v
		}
	}
	s, isStr := raw.(string)
	if !isStr {
		if raw != nil {
			errs.add("url", "expected a string")
		}
		return out
	}
	u := parseLuaURL(s)
	port, numeric := strconv.Atoi(u.port)
	proto := u.scheme
	if proto == "" {
		switch {
		case numeric == nil && port == 80:
			proto = "http"
		case numeric == nil && port == 443:
			proto = "https"
		default:
			proto = "http"
		}
	}
	out["protocol"] = proto
	out["host"] = nil
	if u.host != "" {
		out["host"] = u.host
	}
	switch {
	case numeric == nil:
		out["port"] = int64(port)
	case u.port != "":
		out["port"] = u.port // not a number: the port field says so
	case proto == "https":
		out["port"] = int64(443)
	default:
		out["port"] = int64(80)
	}
	out["path"] = nil
	if u.path != "" {
		out["path"] = u.path
	}
	return out
}

// luaURL is a URL split as LuaSocket's socket.url.parse splits it.
type luaURL struct{ scheme, host, port, path string }

// parseLuaURL follows socket.url.parse: fragment and query dropped, "scheme:" then "//authority"
// (user info dropped, ":port" split off, IPv6 brackets removed), the rest is the path.
func parseLuaURL(s string) luaURL {
	var u luaURL
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if m := luaScheme.FindStringSubmatch(s); m != nil {
		u.scheme, s = m[1], s[len(m[0]):]
	}
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		auth := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			auth, s = rest[:i], rest[i:]
		} else {
			s = ""
		}
		if i := strings.LastIndexByte(auth, '@'); i >= 0 {
			auth = auth[i+1:]
		}
		if m := luaPort.FindStringSubmatch(auth); m != nil {
			u.port, auth = m[1], auth[:len(auth)-len(m[0])]
		}
		if strings.HasPrefix(auth, "[") && strings.HasSuffix(auth, "]") {
			auth = auth[1 : len(auth)-1]
		}
		u.host = auth
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	u.path = s
	return u
}

var (
	luaScheme = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9+\-.]*):`)
	luaPort   = regexp.MustCompile(`:([^:\]]*)$`)
)

// checkService is services.lua's conditional entity checks: no path for tcp, tls, udp, grpc and
// grpcs, and the upstream TLS fields only for https and tls.
func checkService(e Entity, errs fieldErrors) {
	proto, _ := e["protocol"].(string)
	tlsProto := proto == "https" || proto == "tls"
	for _, f := range []string{"client_certificate", "tls_verify", "tls_verify_depth", "ca_certificates"} {
		if e[f] != nil && !tlsProto {
			errs.add(f, "value must be null")
		}
	}
	if slices.Contains([]string{"tcp", "tls", "udp", "grpc", "grpcs"}, proto) && e["path"] != nil {
		errs.add("path", "value must be null")
	}
}

// checkName is Kong's typedefs.utf8_name (services', routes' and plugins' names): valid UTF-8 of
// ASCII letters, digits, ".", "-", "_", "~" and any non-ASCII character.
func checkName(v any) string {
	s := v.(string)
	if !utf8.ValidString(s) {
		pos := 1
		for i, r := range s {
			if r == utf8.RuneError {
				pos = i + 1
				break
			}
		}
		return fmt.Sprintf("invalid utf-8 character sequence detected at position %d", pos)
	}
	for _, r := range s {
		if r < utf8.RuneSelf && !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".-_~", r)) {
			return "invalid value '" + s + "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
		}
	}
	return ""
}

var hostPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$`)

func checkHost(v any) string {
	s := v.(string)
	if net.ParseIP(strings.Trim(s, "[]")) != nil || hostPattern.MatchString(s) {
		return ""
	}
	return "invalid value: " + s
}

func checkPath(v any) string {
	s := v.(string)
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	return ""
}

func routesSchema() *schema {
	return &schema{
		name:        "routes",
		endpointKey: "name",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("name").isUnique().validate(checkName),
			strSet("protocols").withDefault([]any{"http", "https"}).elemOneOf(protocolsAll...),
			strSet("methods"),
			strArray("hosts").validate(checkHosts),
			strArray("paths").validate(checkRoutePaths),
			{name: "headers", kind: kMap},
			integer("https_redirect_status_code").withDefault(int64(426)).validate(func(v any) string {
				if !slices.Contains([]int64{426, 301, 302, 307, 308}, v.(int64)) {
					return "expected one of: 426, 301, 302, 307, 308"
				}
				return ""
			}),
			integer("regex_priority").withDefault(int64(0)),
			boolean("strip_path").withDefault(true),
			str("path_handling").withDefault("v0").one("v0", "v1"),
			boolean("preserve_host").withDefault(false),
			boolean("request_buffering").withDefault(true),
			boolean("response_buffering").withDefault(true),
			// typedefs.wildcard_host under the traditional_compatible router (Kong's default).
			strSet("snis").elemCheck(checkSNIName),
			{name: "sources", kind: kArray, elem: &field{kind: kMap}},
			{name: "destinations", kind: kArray, elem: &field{kind: kMap}},
			tags(),
			foreign("service", "services"),
		},
		parent: "service",
		expand: expandRoute,
		check:  checkRoute,
	}
}

func checkHosts(v any) string {
	for _, h := range v.([]any) {
		s := h.(string)
		host := s
		if hh, _, err := net.SplitHostPort(s); err == nil {
			host = hh
		}
		if strings.Count(host, "*") > 1 {
			return "invalid wildcard: must have at most one wildcard"
		}
		if strings.Contains(host, "*") && !strings.HasPrefix(host, "*.") && !strings.HasSuffix(host, ".*") {
			return "invalid wildcard: must be placed at leftmost or rightmost label"
		}
		if msg := checkHost(strings.Trim(strings.TrimSuffix(strings.TrimPrefix(host, "*."), ".*"), "")); msg != "" {
			return msg
		}
	}
	return ""
}

func checkRoutePaths(v any) string {
	for _, p := range v.([]any) {
		s := p.(string)
		if strings.HasPrefix(s, "~") {
			if _, err := regexp.Compile(strings.ReplaceAll(s[1:], "?<", "?P<")); err != nil {
				return fmt.Sprintf("invalid regex: '%s' (%v)", s[1:], err)
			}
			continue
		}
		if !strings.HasPrefix(s, "/") {
			return "should start with: / (fixed path) or ~/ (regex path)"
		}
	}
	return ""
}

// routeFamily is the routes subschema a route's first protocol selects (routes_subschemas.lua):
// "http" for http and https, "grpc" for grpc and grpcs, "stream" for the others.
func routeFamily(protocols any) string {
	var first string
	switch t := protocols.(type) {
	case []any:
		if len(t) > 0 {
			first = String(t[0])
		}
	case string:
		first = t
	}
	switch first {
	case "grpc", "grpcs":
		return "grpc"
	case "tcp", "tls", "udp", "tls_passthrough":
		return "stream"
	}
	return "http"
}

// expandRoute applies the grpc subschema's default: strip_path is false for grpc routes.
func expandRoute(in map[string]any, _ fieldErrors) map[string]any {
	if _, given := in["strip_path"]; given || routeFamily(in["protocols"]) != "grpc" {
		return in
	}
	out := maps.Clone(in)
	out["strip_path"] = false
	return out
}

// checkRoute is routes.lua's and routes_subschemas.lua's checks for the http, grpc and stream
// families: the fields a family cannot set, and the attributes it must match on.
func checkRoute(e Entity, errs fieldErrors) {
	protos, _ := e["protocols"].([]any)
	has := func(p string) bool { return slices.Contains(protos, any(p)) }
	set := func(f string) bool {
		switch v := e[f].(type) {
		case []any:
			return len(v) > 0
		case map[string]any:
			return len(v) > 0
		}
		return false
	}
	cannot := func(fields []string, when string) {
		for _, f := range fields {
			if set(f) {
				errs.add(f, "cannot set '"+f+"' when 'protocols' is "+when)
			}
		}
	}
	switch routeFamily(e["protocols"]) {
	case "http":
		cannot([]string{"sources", "destinations"}, "'http' or 'https'")
		switch {
		case has("https") && !set("methods") && !set("hosts") && !set("headers") && !set("paths") && !set("snis"):
			errs.entity("must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'")
		case !has("https") && !set("methods") && !set("hosts") && !set("headers") && !set("paths"):
			errs.entity("must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'")
		}
	case "grpc":
		if e["strip_path"] == true {
			errs.add("strip_path", "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'")
		}
		cannot([]string{"methods", "sources", "destinations"}, "'grpc' or 'grpcs'")
		switch {
		case has("grpcs") && !set("hosts") && !set("headers") && !set("paths") && !set("snis"):
			errs.entity("must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'")
		case !has("grpcs") && !set("hosts") && !set("headers") && !set("paths"):
			errs.entity("must set one of 'hosts', 'headers', 'paths' when 'protocols' is 'grpc'")
		}
	case "stream":
		cannot([]string{"methods", "hosts", "paths", "headers"}, "'tcp', 'tls', 'tls_passthrough' or 'udp'")
		if (has("tcp") || has("tls") || has("udp")) && !set("sources") && !set("destinations") && !set("snis") {
			errs.entity("must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'")
		}
		if has("tls_passthrough") && !set("snis") {
			errs.entity("must set snis when 'protocols' is 'tls_passthrough'")
		}
	}
	if set("snis") && !has("https") && !has("grpcs") && !has("tls") && !has("tls_passthrough") {
		errs.add("snis", "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'")
	}
}

func consumersSchema() *schema {
	return &schema{
		name:        "consumers",
		endpointKey: "username",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("username").isUnique(),
			str("custom_id").isUnique(),
			tags(),
		},
		check: func(e Entity, errs fieldErrors) {
			if e["username"] == nil && e["custom_id"] == nil {
				errs.entity("at least one of these fields must be non-empty: 'custom_id', 'username'")
			}
		},
	}
}

func mtlsCredentialsSchema() *schema {
	return &schema{
		name: "mtls_auth_credentials",
		fields: []*field{
			idField(), createdAt(),
			foreign("consumer", "consumers").isRequired().cascade(),
			str("subject_name").isRequired(),
			foreign("ca_certificate", "ca_certificates").cascade(),
			tags(),
		},
		uniqueTogether: [][]string{{"subject_name", "ca_certificate"}},
		parent:         "consumer",
	}
}

func aclsSchema() *schema {
	return &schema{
		name: "acls",
		fields: []*field{
			idField(), createdAt(),
			foreign("consumer", "consumers").isRequired().cascade(),
			str("group").isRequired(),
			tags(),
		},
		uniqueTogether: [][]string{{"consumer", "group"}},
		parent:         "consumer",
	}
}

func upstreamsSchema() *schema {
	return &schema{
		name:        "upstreams",
		endpointKey: "name",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("name").isRequired().isUnique().validate(checkHost),
			str("algorithm").withDefault("round-robin").one("consistent-hashing", "least-connections", "round-robin", "latency"),
			str("hash_on").withDefault("none"),
			str("hash_fallback").withDefault("none"),
			integer("slots").withDefault(int64(10000)).in(10, 65536),
			str("host_header").validate(checkHost),
			foreign("client_certificate", "certificates"),
			boolean("use_srv_name").withDefault(false),
			{name: "healthchecks", kind: kMap},
			tags(),
		},
	}
}

func targetsSchema() *schema {
	return &schema{
		name: "targets",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			foreign("upstream", "upstreams").isRequired().cascade(),
			str("target").isRequired().validate(checkTarget),
			integer("weight").withDefault(int64(100)).in(0, 65535),
			tags(),
		},
		uniqueTogether: [][]string{{"upstream", "target"}},
		parent:         "upstream",
	}
}

// checkTarget accepts host or host:port, as Kong does (the default port 8000 is added later).
func checkTarget(v any) string {
	s := v.(string)
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "Invalid target ('" + s + "'); not a valid hostname or ip address"
		}
		host = h
	}
	if checkHost(host) != "" {
		return "Invalid target ('" + s + "'); not a valid hostname or ip address"
	}
	return ""
}
