package nginxconf

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mtlsgate/mtlsgate/reference/kong"
)

// TLSPolicy is a listener's ssl_protocols and ssl_ciphers.
type TLSPolicy struct {
	Protocols, Ciphers string
}

// PolicyFor maps kong.conf's ssl_cipher_suite (with ssl_protocols and ssl_ciphers for custom) to
// nginx directives, as Kong's own nginx template does (SPEC K-TLS-1). "old" adds @SECLEVEL=0:
// OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level.
func PolicyFor(suite string, protocols []string, ciphers string) (TLSPolicy, error) {
	if suite == "" {
		suite = kong.DefaultCipherSuite
	}
	if s, ok := kong.CipherSuites()[suite]; ok {
		p := TLSPolicy{Protocols: strings.Join(s.Protocols, " "), Ciphers: s.Ciphers}
		if slices.Contains(s.Protocols, "TLSv1") {
			p.Ciphers += ":@SECLEVEL=0"
		}
		return p, nil
	}
	switch suite {
	case "custom":
		for _, p := range protocols {
			if !slices.Contains(kong.SSLProtocols(), p) {
				return TLSPolicy{}, fmt.Errorf("ssl_protocols: %q is not one of %s", p, strings.Join(kong.SSLProtocols(), ", "))
			}
		}
		if len(protocols) == 0 {
			return TLSPolicy{}, errors.New("ssl_protocols: empty; ssl_cipher_suite = custom needs at least one protocol")
		}
		if strings.ContainsAny(ciphers, "\"'$;{} \t\n") {
			return TLSPolicy{}, fmt.Errorf("ssl_ciphers: %q is not an OpenSSL cipher list", ciphers)
		}
		return TLSPolicy{Protocols: strings.Join(protocols, " "), Ciphers: ciphers}, nil
	}
	return TLSPolicy{}, fmt.Errorf("ssl_cipher_suite: Undefined cipher suite %s (want modern, intermediate, old, fips or custom)", suite)
}

// write emits the whole configuration.
func (r *renderer) write(m *model) error {
	s := r.s
	w := &r.b
	p := func(indent int, format string, args ...any) {
		w.WriteString(strings.Repeat("    ", indent))
		fmt.Fprintf(w, format, args...)
		w.WriteByte('\n')
	}
	p(0, "# Rendered by mtlsgate (harness/nginxconf) from the Admin API's entities; do not edit.")
	if s.NJSModule != "" && len(m.mtls) > 0 {
		p(0, "load_module %s;", quote(s.NJSModule))
	}
	p(0, "worker_processes 1;")
	p(0, "pid nginx.pid;")
	p(0, "error_log logs/error.log warn;")
	p(0, "events { worker_connections 1024; }")
	p(0, "http {")
	p(1, "access_log off;")
	p(1, "server_tokens off;")
	p(1, `default_type "application/json; charset=utf-8";`)
	p(1, "client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;")
	p(1, "proxy_http_version 1.1;")
	p(1, "proxy_ssl_server_name on;")
	p(1, "proxy_ssl_session_reuse off;")
	p(1, "proxy_ssl_verify %s;", onOff(s.Verify))
	p(1, "proxy_ssl_verify_depth %d;", s.VerifyDepth)
	switch {
	case len(s.TrustedPEM) > 0:
		p(1, "proxy_ssl_trusted_certificate %s;", r.file(".pem", s.TrustedPEM))
	case s.SystemTrust != "":
		p(1, "proxy_ssl_trusted_certificate %s;", quote(s.SystemTrust))
	}
	if c := s.ClientCert; c != nil {
		p(1, "proxy_ssl_certificate %s;", r.file(".crt", c.Cert))
		p(1, "proxy_ssl_certificate_key %s;", r.file(".key", c.Key))
	}
	p(1, "# X-Kong-Upstream-Latency in whole milliseconds, from nginx's seconds.milliseconds")
	p(1, "map $upstream_response_time $mtlsgate_upstream_ms {")
	p(2, `default "0";`)
	p(2, `"~^0\.0*(?<ms>\d+)" "$ms";`)
	p(2, `"~^(?<s>[1-9]\d*)\.(?<ms>\d{3})" "$s$ms";`)
	p(1, "}")
	if len(m.mtls) > 0 {
		if err := r.writeMTLS(m, p); err != nil {
			return err
		}
	}
	r.writeACL(m, p)
	writeDispatch(m, p)
	for _, u := range m.upstreams {
		p(1, "upstream %s {", u.name)
		for _, srv := range u.servers {
			p(2, "server %s;", srv)
		}
		p(1, "}")
	}
	routes := r.file(".conf", []byte(r.locations(m)))
	p(1, "server {")
	p(2, "listen %s;", s.StatusAddr)
	p(2, `location = %s { default_type text/plain; return 200 "@@GENERATION@@"; }`, GenerationPath)
	p(2, "location / { return 404; }")
	p(1, "}")
	p(1, "server {")
	p(2, "listen %s;", s.ProxyAddr)
	p(2, "include %s;", routes)
	p(1, "}")
	tlsServer := func(listen string, names []string, certs []KeyPair) {
		p(1, "server {")
		p(2, "listen %s;", listen)
		if len(names) > 0 {
			quoted := make([]string, len(names))
			for i, n := range names {
				quoted[i] = quote(n)
			}
			p(2, "server_name %s;", strings.Join(quoted, " "))
		}
		for _, kp := range certs {
			p(2, "ssl_certificate %s;", r.file(".crt", kp.Cert))
			p(2, "ssl_certificate_key %s;", r.file(".key", kp.Key))
		}
		p(2, "ssl_protocols %s;", s.TLS.Protocols)
		if s.TLS.Ciphers != "" {
			p(2, "ssl_ciphers %s;", quote(s.TLS.Ciphers))
		}
		p(2, "ssl_prefer_server_ciphers on;")
		p(2, "ssl_session_tickets off;")
		if len(m.clientCAs) > 0 {
			p(2, "# mtls-auth is enabled: ask for a client certificate, verify it with OpenSSL, and")
			p(2, "# let each location answer a failed verification (nginx's 495) as its plugins say.")
			p(2, "ssl_verify_client optional;")
			p(2, "ssl_client_certificate %s;", r.file(".pem", m.clientCAs))
			p(2, "ssl_verify_depth 8;")
			p(2, "error_page 495 = @mtlsgate_cert_failed;")
		}
		p(2, "include %s;", routes)
		p(1, "}")
	}
	tlsServer(s.ProxyTLSAddr+" ssl default_server", nil, s.ServerCerts)
	// Certificates by SNI: exact names first (nginx's own rule), then one-label wildcards in
	// Kong's order: leading, trailing, then the "*" entity.
	for _, kind := range []string{"exact", "leading", "trailing", "any"} {
		for _, srv := range m.sniServers {
			if names := serverNames(srv.names, kind); len(names) > 0 {
				tlsServer(s.ProxyTLSAddr+" ssl", names, srv.certs)
			}
		}
	}
	p(0, "}")
	return nil
}

// writeMTLS emits the maps of the mtls-auth plugins. nginx verifies the certificate (OpenSSL);
// the maps turn its verdict, the CA that issued the leaf and the names in it into each plugin's
// consumer, its anonymous flag, and what to refuse with:
//
//	$mtlsgate_verify       ok | failed | none (no certificate, or plain HTTP)
//	$mtlsgate_lookup_N     the consumer Kong's lookup finds (default_consumer if none)
//	$mtlsgate_consumer_N   that consumer when verified, else the anonymous consumer
//	$mtlsgate_deny_N       "" to proxy, or nocert | failed | nocn | error
func (r *renderer) writeMTLS(m *model, p func(int, string, ...any)) error {
	p(1, "# mtls-auth")
	p(1, "map $ssl_client_verify $mtlsgate_verify {")
	p(2, `default "none";`)
	p(2, `"SUCCESS" "ok";`)
	p(2, `"~^FAILED" "failed";`)
	p(1, "}")
	p(1, "map $ssl_client_s_dn $mtlsgate_cn {")
	p(2, `default "";`)
	p(2, `"~(?:^|,)CN=(?<cn>[^,]*)" "$cn";`)
	p(1, "}")
	p(1, "map $ssl_client_i_dn $mtlsgate_ca {")
	p(2, `default "";`)
	for _, dn := range sortedKeys(m.caDNs) {
		p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(dn)+"$"), quote(m.caDNs[dn]))
	}
	p(1, "}")
	njs := r.s.NJSModule != ""
	if njs {
		script, err := njsScript(m.mtls)
		if err != nil {
			return err
		}
		p(1, "js_import mtlsgate from %s;", r.file(".js", script))
		p(1, "js_set $mtlsgate_san mtlsgate.san;")
	}
	for _, pl := range m.mtls {
		p(1, "# plugin %s", pl.id)
		anon, anonFlag := "", ""
		if pl.anonymous != "" && !pl.anonymousMissing {
			anon, anonFlag = pl.anonymous, "true"
		}
		fail := func(what string) string {
			if pl.anonymous != "" {
				return "error" // the anonymous consumer is missing, or it would have been used
			}
			return what
		}
		if pl.skipLookup {
			p(1, `map $mtlsgate_verify $mtlsgate_consumer_%s { default %s; ok ""; }`, pl.n, quote(anon))
			p(1, `map $mtlsgate_verify $mtlsgate_anonymous_%s { default %s; ok ""; }`, pl.n, quote(anonFlag))
			p(1, `map "$mtlsgate_verify|$mtlsgate_consumer_%s|$mtlsgate_cn" $mtlsgate_deny_%s {`, pl.n, pl.n)
			p(2, `default "";`)
			if pl.groupByCN {
				p(2, `"~^ok\|\|$" "nocn";`)
			}
			p(2, `"~^none\|\|" %q;`, fail("nocert"))
			p(2, `"~^failed\|\|" %q;`, fail("failed"))
			p(1, "}")
			continue
		}
		if njs {
			p(1, "js_set $mtlsgate_lookup_%s mtlsgate.lookup_%s;", pl.n, pl.n)
		} else {
			def := ""
			if !pl.defaultMissing {
				def = pl.defaultConsumer
			}
			p(1, "# nginx without njs: the lookup uses the subject CN, the one name nginx exposes")
			p(1, `map "$mtlsgate_ca|$mtlsgate_cn" $mtlsgate_lookup_%s {`, pl.n)
			p(2, "default %s;", quote(def))
			for _, k := range sortedKeys(pl.lookup) {
				p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(k)+"$"), quote(pl.lookup[k]))
			}
			p(1, "}")
		}
		p(1, `map "$mtlsgate_verify|$mtlsgate_lookup_%s" $mtlsgate_consumer_%s {`, pl.n, pl.n)
		p(2, "default %s;", quote(anon))
		p(2, `"~^ok\|(?<c>.+)$" "$c";`)
		p(1, "}")
		p(1, `map "$mtlsgate_verify|$mtlsgate_lookup_%s" $mtlsgate_anonymous_%s {`, pl.n, pl.n)
		p(2, "default %s;", quote(anonFlag))
		p(2, `"~^ok\|." "";`)
		p(1, "}")
		p(1, `map "$mtlsgate_verify|$mtlsgate_consumer_%s" $mtlsgate_deny_%s {`, pl.n, pl.n)
		p(2, `default "";`)
		p(2, `"~^none\|$" %q;`, fail("nocert"))
		p(2, `"~^failed\|$" %q;`, fail("failed"))
		okEmpty := "failed"
		if pl.defaultMissing || pl.anonymous != "" {
			okEmpty = "error"
		}
		p(2, `"~^ok\|$" %q;`, okEmpty)
		p(1, "}")
		for _, f := range []struct {
			name string
			get  func(consumer) string
		}{{"username", func(c consumer) string { return c.username }}, {"custom_id", func(c consumer) string { return c.customID }}} {
			p(1, "map $mtlsgate_consumer_%s $mtlsgate_%s_%s {", pl.n, f.name, pl.n)
			p(2, `default "";`)
			for _, c := range m.consumers {
				if v := f.get(c); v != "" {
					p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(c.id)+"$"), quote(v))
				}
			}
			p(1, "}")
		}
	}
	return nil
}

// locations renders the routes, shared by the http and https listeners.
func (r *renderer) locations(m *model) string {
	var w strings.Builder
	p := func(indent int, format string, args ...any) {
		w.WriteString(strings.Repeat("    ", indent))
		fmt.Fprintf(&w, format, args...)
		w.WriteByte('\n')
	}
	p(0, "# routes (rendered by mtlsgate)")
	p(0, "error_page 502 = @mtlsgate_502;")
	p(0, "error_page 504 = @mtlsgate_504;")
	p(0, "location @mtlsgate_502 { return 502 %s; }", jsonMessage(kong.MsgBadUpstream))
	p(0, "location @mtlsgate_504 { return 504 %s; }", jsonMessage(kong.MsgTimeout))
	p(0, "# nginx refuses a certificate it cannot verify (495) before routing; go on routing, so each")
	p(0, "# location decides as its mtls-auth plugin (or its absence) says, from $ssl_client_verify.")
	p(0, "location @mtlsgate_cert_failed { rewrite ^ $uri last; }")
	p(0, "location ^~ %snone/ {", routePrefix)
	p(1, "internal;")
	p(1, "add_header X-Kong-Request-Id $request_id always;")
	p(1, `return 404 '{"message":"%s","request_id":"$request_id"}';`, kong.MsgNoRoute)
	p(0, "}")
	for _, d := range m.dispatches {
		p(0, "location %s {", d.path)
		p(1, "set $mtlsgate_path $uri;")
		p(1, "rewrite ^ %s last;", quote(routePrefix+d.variable+"$uri"))
		p(0, "}")
	}
	for _, loc := range m.locations {
		p(0, "location ^~ %s%s/ {", routePrefix, loc.id)
		p(1, "internal;")
		p(1, "# route %s, path %q", loc.routeID, loc.path)
		switch {
		case !slices.Contains(loc.protocols, "http"):
			p(1, "if ($scheme = http) {")
			p(2, "add_header Upgrade %s always;", quote("TLS/1.2, HTTP/1.1"))
			p(2, "add_header Connection Upgrade always;")
			p(2, `return 426 '{"message":"%s"}';`, kong.MsgUseHTTPS)
			p(1, "}")
		case !slices.Contains(loc.protocols, "https"):
			p(1, `if ($scheme = https) { return 404 '{"message":"%s","request_id":"$request_id"}'; }`, kong.MsgNoRoute)
		}
		if pl := loc.plugin; pl != nil {
			p(1, "# mtls-auth plugin %s", pl.id)
			p(1, "if ($mtlsgate_deny_%s = nocert) { return 401 %s; }", pl.n, jsonMessage(kong.MsgNoCertificate))
			p(1, "if ($mtlsgate_deny_%s = failed) { return 401 %s; }", pl.n, jsonMessage(kong.MsgFailedVerify))
			p(1, "if ($mtlsgate_deny_%s = nocn) { return 401 %s; }", pl.n, jsonMessage(kong.MsgMissingCN))
			p(1, "if ($mtlsgate_deny_%s = error) { return 500 %s; }", pl.n, jsonMessage(kong.MsgUnexpectedError))
		}
		if a := loc.acl; a != nil {
			u := aclUse{acl: a, mtls: loc.plugin}
			p(1, "# acl plugin %s", a.id)
			if u.mtls == nil {
				p(1, "return 401 %s;", jsonMessage(kong.MsgUnauthorized))
			} else {
				p(1, "if (%s = deny) { return 403 %s; }", u.variable(), jsonMessage(kong.MsgCannotConsume))
			}
		}
		if loc.svc == nil {
			p(1, "return %d %s;", loc.status, jsonMessage(loc.fixed))
			p(0, "}")
			continue
		}
		t := loc.svc
		for _, rw := range loc.rewrites {
			re := "^" + regexp.QuoteMeta(routePrefix+loc.id) + strings.TrimPrefix(rw[0], "^")
			p(1, "rewrite %s %s break;", quote(re), quote(rw[1]))
		}
		if loc.preserve {
			p(1, "proxy_set_header Host $http_host;")
		} else {
			p(1, "proxy_set_header Host %s;", quote(t.hostHeader))
		}
		p(1, "proxy_set_header Connection \"\";")
		p(1, "proxy_set_header X-Real-IP $remote_addr;")
		p(1, "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
		p(1, "proxy_set_header X-Forwarded-Proto $scheme;")
		p(1, "proxy_set_header X-Forwarded-Host $host;")
		p(1, "proxy_set_header X-Forwarded-Port $server_port;")
		p(1, "proxy_set_header X-Forwarded-Path $mtlsgate_path;")
		p(1, "proxy_set_header X-Forwarded-Prefix %s;", quote(loc.prefixHdr))
		p(1, "proxy_set_header X-Kong-Request-Id $request_id;")
		for _, h := range kong.IdentityHeaders() {
			v := `""`
			if pl := loc.plugin; pl != nil {
				switch {
				case h == kong.HeaderConsumerID && !pl.skipLookup, h == kong.HeaderConsumerID && pl.anonymous != "":
					v = "$mtlsgate_consumer_" + pl.n
				case h == kong.HeaderConsumerUsername && !pl.skipLookup:
					v = "$mtlsgate_username_" + pl.n
				case h == kong.HeaderConsumerCustomID && !pl.skipLookup:
					v = "$mtlsgate_custom_id_" + pl.n
				case h == kong.HeaderAnonymousConsumer:
					v = "$mtlsgate_anonymous_" + pl.n
				case h == kong.HeaderClientCertDN && pl.skipLookup:
					v = "$ssl_client_s_dn"
				case h == kong.HeaderClientCertSAN && pl.skipLookup:
					v = "$mtlsgate_san"
				case h == kong.HeaderConsumerGroups && loc.acl != nil && !loc.acl.hide && !pl.skipLookup:
					v = "$mtlsgate_groups_" + pl.n
				case h == kong.HeaderAuthenticatedGroups && loc.acl != nil && !loc.acl.hide && pl.skipLookup:
					v = groupSource(pl)
				}
			}
			p(1, "proxy_set_header %s %s;", h, v)
		}
		p(1, "proxy_connect_timeout %dms;", t.connect)
		p(1, "proxy_read_timeout %dms;", t.read)
		p(1, "proxy_send_timeout %dms;", t.write)
		if t.scheme == "https" {
			p(1, "proxy_ssl_name %s;", quote(t.sni))
			if c := t.clientCert; c != nil {
				p(1, "proxy_ssl_certificate %s;", r.file(".crt", c.Cert))
				p(1, "proxy_ssl_certificate_key %s;", r.file(".key", c.Key))
			}
			if t.verify != nil {
				p(1, "proxy_ssl_verify %s;", onOff(*t.verify))
			}
			if len(t.trustedPEM) > 0 {
				p(1, "proxy_ssl_trusted_certificate %s;", r.file(".pem", t.trustedPEM))
			}
			if t.depth != nil {
				p(1, "proxy_ssl_verify_depth %d;", *t.depth)
			}
		}
		p(1, "add_header Via %s always;", quote(r.s.Via))
		p(1, "add_header X-Kong-Request-Id $request_id always;")
		p(1, "add_header X-Kong-Upstream-Latency $mtlsgate_upstream_ms always;")
		p(1, "proxy_pass %s://%s;", t.scheme, t.hostport)
		p(0, "}")
	}
	return w.String()
}

// writeACL emits each acl plugin's decision ("allow" or "deny") per mtls-auth plugin it runs
// behind, and the groups header values (SPEC K-MTLS-7).
func (r *renderer) writeACL(m *model, p func(int, string, ...any)) {
	done := map[string]bool{}
	groupsDone := map[string]bool{}
	decision := func(ok bool) string {
		if ok {
			return "allow"
		}
		return "deny"
	}
	for _, u := range m.aclUses {
		v := u.variable()
		if u.mtls == nil || done[v] {
			continue
		}
		done[v] = true
		p(1, "# acl plugin %s behind mtls-auth plugin %s", u.acl.id, u.mtls.id)
		if u.mtls.skipLookup {
			p(1, "map %s %s {", groupSource(u.mtls), v)
			p(2, "default %s;", decision(u.acl.permits(nil)))
			for _, g := range append(slices.Clone(u.acl.allow), u.acl.deny...) {
				p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(g)+"$"), decision(u.acl.permits([]string{g})))
			}
			p(1, "}")
			continue
		}
		p(1, "map $mtlsgate_consumer_%s %s {", u.mtls.n, v)
		p(2, "default %s;", decision(u.acl.permits(nil)))
		for _, c := range m.consumers {
			p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(c.id)+"$"), decision(u.acl.permits(m.groups[c.id])))
		}
		p(1, "}")
		if !groupsDone[u.mtls.n] {
			groupsDone[u.mtls.n] = true
			p(1, "map $mtlsgate_consumer_%s $mtlsgate_groups_%s {", u.mtls.n, u.mtls.n)
			p(2, `default "";`)
			for _, c := range m.consumers {
				if gs := m.groups[c.id]; len(gs) > 0 {
					p(2, "%s %s;", quote("~^"+regexp.QuoteMeta(c.id)+"$"), quote(strings.Join(gs, ", ")))
				}
			}
			p(1, "}")
		}
	}
}

// groupSource is the variable holding the authenticated group under skip_consumer_lookup: the
// subject CN, or the RFC 2253 DN with authenticated_group_by = DN.
func groupSource(pl *mtlsPlugin) string {
	if pl.groupByCN {
		return "$mtlsgate_cn"
	}
	return "$ssl_client_s_dn"
}

// routePrefix is where the dispatch locations send a request, to the internal location of the
// route piece the dispatch map chose.
const routePrefix = "/__mtlsgate/route/"

// writeDispatch emits, per nginx location, the map choosing the route piece by scheme, Host and
// SNI in Kong's priority order (SPEC K-PROXY-1, K-SNI-2).
func writeDispatch(m *model, p func(int, string, ...any)) {
	for _, d := range m.dispatches {
		p(1, `map "$scheme|$host|$ssl_server_name" %s {`, d.variable)
		p(2, `default "none";`)
		for _, loc := range d.candidates {
			for _, re := range pieceRegexes(loc) {
				p(2, "%s %q;", quote(re), loc.id)
			}
		}
		p(1, "}")
	}
}

// pieceRegexes match "$scheme|$host|$ssl_server_name" for a route piece: its hosts (exact,
// "*.x" for any labels before .x, "x.*" for any after x.) and, over https only, its snis (with
// the same wildcards).
func pieceRegexes(loc *location) []string {
	host := "[^|]*"
	if len(loc.hosts) > 0 {
		alts := make([]string, len(loc.hosts))
		for i, h := range loc.hosts {
			alts[i] = wildcardRegex(h)
		}
		host = "(?:" + strings.Join(alts, "|") + ")"
	}
	if len(loc.snis) == 0 {
		return []string{"~^[a-z]+\\|" + host + "\\|"}
	}
	snis := make([]string, len(loc.snis))
	for i, s := range loc.snis {
		snis[i] = wildcardRegex(s)
	}
	return []string{
		"~^https\\|" + host + "\\|(?:" + strings.Join(snis, "|") + ")$",
		"~^http\\|" + host + "\\|",
	}
}

// wildcardRegex matches a route's host or SNI as Kong's router does: a leading "*" any name
// ending in the rest ("*.x": any labels before .x), a trailing "*" any name starting with the rest.
func wildcardRegex(name string) string {
	switch {
	case strings.HasPrefix(name, "*"):
		return "[^|]*" + regexp.QuoteMeta(name[1:])
	case strings.HasSuffix(name, "*"):
		return regexp.QuoteMeta(name[:len(name)-1]) + "[^|]*"
	}
	return regexp.QuoteMeta(name)
}

// jsonMessage is Kong's {"message":"…"} body as an nginx string.
func jsonMessage(msg string) string { return `'{"message":"` + msg + `"}'` }

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// quote makes s one nginx token; callers have refused '$' (a variable to nginx) beforehand.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checkValue refuses what nginx cannot carry as a literal: '$' starts a variable and there is no
// escape for it; control characters would end the token.
func checkValue(s string) error {
	if i := strings.IndexFunc(s, func(r rune) bool { return r == '$' || r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%q contains %q, which nginx cannot carry in a string", s, s[i])
	}
	return nil
}

// checkHostPort accepts host:port with a host nginx resolves at load time.
func checkHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", hp, err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("%q: port is not a number", hp)
	}
	if !hostName.MatchString(host) {
		return fmt.Errorf("%q: host must be a name or an address", hp)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// empty reports whether an optional list or map field holds nothing.
func empty(v any) bool {
	switch t := v.(type) {
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	case []string:
		return len(t) == 0
	}
	return false
}
