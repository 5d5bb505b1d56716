// Package nginxconf renders an nginx.conf from the Kong Admin API's entities, so that nginx
// (OpenSSL), not Go code, does the Kong profile's client mTLS, consumer headers, routing and
// upstream TLS. A configuration nginx cannot express is refused with an error naming the entity
// and field, never rendered half-right.
package nginxconf

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mtlsgate/mtlsgate/reference/kong"
	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// GenerationPath is the status listener's location answering the configuration generation, the
// readiness probe of a reload.
const GenerationPath = "/__mtlsgate/generation"

// Settings are the parts of the configuration that do not come from the Admin API: listeners,
// kong.conf's TLS settings and where files live.
type Settings struct {
	// ProxyAddr and ProxyTLSAddr are the proxy listeners (host:port); StatusAddr answers the
	// generation probe.
	ProxyAddr, ProxyTLSAddr, StatusAddr string
	// ServerCerts are the default certificate(s) of the TLS listener, PEM chain and key
	// (ssl_cert/ssl_cert_key, or a generated one); several give nginx's multi-certificate (RSA
	// and ECDSA) setup.
	ServerCerts []KeyPair
	// TLS is the listener's protocol and cipher policy (kong.conf ssl_cipher_suite).
	TLS TLSPolicy
	// ClientCert is kong.conf's client_ssl_cert, presented upstream when nothing more specific is.
	ClientCert *KeyPair
	// Verify, TrustedPEM and VerifyDepth are nginx_proxy_proxy_ssl_verify and friends
	// (kong.conf's default depth is nginx's, 1).
	Verify      bool
	TrustedPEM  []byte
	VerifyDepth int
	// SystemTrust is the system CA bundle's path, used when a service verifies its upstream but
	// names no CA (Kong's behaviour: verification against the system store).
	SystemTrust string
	// Via is the Via header value proxied responses carry.
	Via string
	// NJSModule is the path of nginx's njs module (ngx_http_js_module.so), "" when it is not
	// installed. With it, the certificate's SANs take part in the consumer lookup and
	// X-Client-Cert-SAN can be set; without it, the lookup uses the subject CN only.
	NJSModule string
}

// KeyPair is a PEM certificate (chain) and its key.
type KeyPair struct{ Cert, Key []byte }

// Rendered is one rendered configuration: the main file without its generation, and the files
// it includes by name (relative to the nginx prefix).
type Rendered struct {
	main  string
	Files map[string][]byte
	// Hash identifies the configuration; equal hashes need no reload.
	Hash string
}

// Config is the nginx.conf text for a generation, which the status listener answers.
func (r *Rendered) Config(generation uint64) string {
	return strings.Replace(r.main, "@@GENERATION@@", strconv.FormatUint(generation, 10), 1)
}

// Error is a configuration nginx cannot express, naming the entity and field.
type Error struct {
	Entity, ID, Field, Reason string
}

// Error says what cannot be rendered and why, for the Admin API's answer.
func (e *Error) Error() string {
	return fmt.Sprintf("the nginx target cannot render %s %s field %s: %s", e.Entity, e.ID, e.Field, e.Reason)
}

func unsupported(entity string, e admin.Entity, field, reason string) error {
	return &Error{Entity: entity, ID: admin.String(e["id"]), Field: field, Reason: reason}
}

// renderer holds the state of one Render call.
type renderer struct {
	snap  *admin.Snapshot
	s     Settings
	files map[string][]byte
	b     strings.Builder
}

// file stores content under a content-addressed name and returns the name.
func (r *renderer) file(ext string, content []byte) string {
	sum := sha256.Sum256(content)
	name := "conf/" + hex.EncodeToString(sum[:12]) + ext
	r.files[name] = content
	return name
}

// Render turns a snapshot of Admin API entities into an nginx configuration.
func Render(snap *admin.Snapshot, s Settings) (*Rendered, error) {
	r := &renderer{snap: snap, s: s, files: map[string][]byte{}}
	m, err := r.compile()
	if err != nil {
		return nil, err
	}
	if err := r.write(m); err != nil {
		return nil, err
	}
	out := &Rendered{main: r.b.String(), Files: r.files}
	h := sha256.New()
	h.Write([]byte(out.main))
	for _, k := range slices.Sorted(maps.Keys(out.Files)) {
		h.Write([]byte(k))
		h.Write(out.Files[k])
	}
	out.Hash = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// model is the snapshot compiled into what the configuration needs.
type model struct {
	// mtls is the set of enabled mtls-auth plugins; clientCAs the bundle the TLS listener
	// verifies client certificates against (empty: no client certificate is requested).
	mtls      []*mtlsPlugin
	clientCAs []byte
	// caDNs maps a CA's subject DN to its ca_certificates id, to tell which CA issued a leaf.
	caDNs      map[string]string
	consumers  []consumer
	upstreams  []*upstreamBlock
	locations  []*location
	dispatches []*dispatch
	// sniServers are the /certificates entities with SNIs, one TLS server block each.
	sniServers []*sniServer
	// groups are the consumers' ACL groups, by consumer id; aclUses the (acl, mtls-auth) pairs
	// some location runs.
	groups  map[string][]string
	aclUses []aclUse
}

// sniServer is a certificate entity (and its alternative) served for its SNI names.
type sniServer struct {
	names []string
	certs []KeyPair
}

// serverNames renders Kong's SNI priority (SPEC K-SNI-2) as nginx server_name values: exact
// names as they are (nginx tries them first), "*.x" and "x.*" as regular expressions matching
// one label only, unlike nginx's own wildcards; nginx tries regular expressions in the order of
// the configuration, and the caller writes leading ones before trailing ones before "*".
func serverNames(names []string, kind string) []string {
	var out []string
	for _, n := range names {
		switch {
		case kind == "exact" && !strings.Contains(n, "*"):
			out = append(out, n)
		case kind == "leading" && strings.HasPrefix(n, "*.") && len(n) > 2:
			out = append(out, "~^[^.]+"+regexp.QuoteMeta(n[1:])+"$")
		case kind == "trailing" && strings.HasSuffix(n, ".*") && len(n) > 2:
			out = append(out, "~^"+regexp.QuoteMeta(n[:len(n)-1])+"[^.]+$")
		case kind == "any" && n == "*":
			out = append(out, "~.")
		}
	}
	return out
}

// aclPlugin is a compiled acl plugin.
type aclPlugin struct {
	n, id       string
	allow, deny []string
	hide        bool
}

// aclUse is an acl plugin behind an mtls-auth plugin (nil: no authentication) on a location.
type aclUse struct {
	acl  *aclPlugin
	mtls *mtlsPlugin
}

// variable names the map that holds the use's decision: "allow" or "deny".
func (u aclUse) variable() string {
	n := "0"
	if u.mtls != nil {
		n = u.mtls.n
	}
	return "$mtlsgate_acl_" + u.acl.n + "_" + n
}

// compileACL checks an acl configuration against what nginx can do (SPEC K-MTLS-7).
func compileACL(e admin.Entity, n int) (*aclPlugin, error) {
	cfg, _ := e["config"].(map[string]any)
	a := &aclPlugin{n: strconv.Itoa(n), id: admin.String(e["id"]), allow: admin.Strings(cfg["allow"]), deny: admin.Strings(cfg["deny"]), hide: cfg["hide_groups_header"] == true}
	if cfg["always_use_authenticated_groups"] == true {
		return nil, unsupported("plugin", e, "config.always_use_authenticated_groups", "not rendered by the nginx target")
	}
	for _, g := range append(slices.Clone(a.allow), a.deny...) {
		if err := checkValue(g); err != nil {
			return nil, unsupported("plugin", e, "config", err.Error())
		}
	}
	return a, nil
}

// permits is the acl decision for one set of groups, by Kong's rule.
func (a *aclPlugin) permits(groups []string) bool { return kong.ACLPermits(a.allow, a.deny, groups) }

type consumer struct{ id, username, customID string }

type mtlsPlugin struct {
	n, id           string
	caIDs           []string
	consumerBy      []string
	defaultConsumer string
	defaultMissing  bool
	// anonymous is the consumer a failed authentication proceeds as ("" for none);
	// anonymousMissing when it names no consumer (Kong answers 500).
	anonymous        string
	anonymousMissing bool
	skipLookup       bool
	groupByCN        bool
	// lookup maps "<ca id>|<name>" to a consumer id, for the CN-only lookup; table is the
	// whole lookup for the njs one.
	lookup map[string]string
	table  lookupTable
}

// lookupTable is Kong's consumer lookup data for one plugin, as the njs script reads it: the
// fields of reference/kong's ConsumerIndex, plus the plugin's consumer_by and default consumer.
type lookupTable struct {
	// Creds maps a subject name to CA id ("" for any CA) to consumer id.
	Creds      map[string]map[string]string `json:"creds"`
	ByUsername map[string]string            `json:"username"`
	ByCustomID map[string]string            `json:"custom_id"`
	ConsumerBy []string                     `json:"consumer_by"`
	Default    string                       `json:"default"`
}

type upstreamBlock struct {
	name    string // nginx upstream name
	servers []string
}

// dispatch is one nginx location: a path and the route pieces that may serve it, best first.
type dispatch struct {
	path, variable string
	candidates     []*location
}

// location is one path of one route: an internal nginx location the dispatch rewrites to.
type location struct {
	id        string
	hosts     []string
	snis      []string
	protocols []string
	priority  uint64
	createdAt int64
	path      string // "" for a catch-all route
	routeID   string
	strip     bool
	preserve  bool
	fixed     string // a fixed JSON answer (status and message) instead of proxying
	status    int
	plugin    *mtlsPlugin
	acl       *aclPlugin
	svc       *serviceTarget
	rewrites  [][2]string
	prefixHdr string
}

type serviceTarget struct {
	scheme, hostport, hostHeader, sni string
	connect, read, write              int64
	clientCert                        *KeyPair
	verify                            *bool
	trustedPEM                        []byte
	depth                             *int64
}

func (r *renderer) compile() (*model, error) {
	m := &model{caDNs: map[string]string{}}
	cas := map[string]*x509.Certificate{}
	caPEM := map[string][]byte{}
	for _, e := range r.snap.List("ca_certificates") {
		block, _ := pem.Decode([]byte(admin.String(e["cert"])))
		if block == nil {
			return nil, unsupported("ca_certificate", e, "cert", "not PEM")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, unsupported("ca_certificate", e, "cert", err.Error())
		}
		cas[admin.String(e["id"])] = c
		caPEM[admin.String(e["id"])] = pem.EncodeToMemory(block)
	}
	certs, alts := map[string]*KeyPair{}, map[string]*KeyPair{}
	for _, e := range r.snap.List("certificates") {
		certs[admin.String(e["id"])] = &KeyPair{Cert: []byte(admin.String(e["cert"])), Key: []byte(admin.String(e["key"]))}
		if e["cert_alt"] != nil && e["key_alt"] != nil {
			alts[admin.String(e["id"])] = &KeyPair{Cert: []byte(admin.String(e["cert_alt"])), Key: []byte(admin.String(e["key_alt"]))}
		}
	}
	bySNI := map[string]*sniServer{}
	for _, e := range r.snap.List("snis") {
		id := admin.RefID(e["certificate"])
		if certs[id] == nil {
			continue
		}
		name := strings.TrimSuffix(strings.ToLower(admin.String(e["name"])), ".")
		if !sniName.MatchString(name) {
			return nil, unsupported("sni", e, "name", fmt.Sprintf("%q: the nginx target renders names of letters, digits, '-', '.' and one leading or trailing '*'", name))
		}
		srv := bySNI[id]
		if srv == nil {
			srv = &sniServer{certs: []KeyPair{*certs[id]}}
			if a := alts[id]; a != nil {
				srv.certs = append(srv.certs, *a)
			}
			bySNI[id] = srv
			m.sniServers = append(m.sniServers, srv)
		}
		srv.names = append(srv.names, name)
	}
	for _, e := range r.snap.List("consumers") {
		for _, f := range []string{"username", "custom_id"} {
			if err := checkValue(admin.String(e[f])); err != nil {
				return nil, unsupported("consumer", e, f, err.Error())
			}
		}
		m.consumers = append(m.consumers, consumer{id: admin.String(e["id"]), username: admin.String(e["username"]), customID: admin.String(e["custom_id"])})
	}
	m.groups = map[string][]string{}
	for _, e := range r.snap.List("acls") {
		if err := checkValue(admin.String(e["group"])); err != nil {
			return nil, unsupported(kong.ACLName, e, "group", err.Error())
		}
		m.groups[admin.RefID(e["consumer"])] = append(m.groups[admin.RefID(e["consumer"])], admin.String(e["group"]))
	}

	// Plugins: mtls-auth and acl, global or scoped to a service or route.
	type scoped struct{ route, service string }
	plugins := map[scoped]*mtlsPlugin{}
	acls := map[scoped]*aclPlugin{}
	var caSet []string
	for _, e := range r.snap.List("plugins") {
		if e["enabled"] == false {
			continue
		}
		if admin.RefID(e["consumer"]) != "" {
			return nil, unsupported("plugin", e, "consumer", "nginx decides per location, not per consumer")
		}
		if protos := admin.Strings(e["protocols"]); len(protos) > 0 && !(slices.Contains(protos, "http") && slices.Contains(protos, "https")) {
			return nil, unsupported("plugin", e, "protocols", "the nginx target runs a plugin on both listeners (http and https)")
		}
		switch admin.String(e["name"]) {
		case kong.MTLSAuthName:
		case kong.ACLName:
			a, err := compileACL(e, len(acls)+1)
			if err != nil {
				return nil, err
			}
			acls[scoped{admin.RefID(e["route"]), admin.RefID(e["service"])}] = a
			continue
		default:
			return nil, unsupported("plugin", e, "name", fmt.Sprintf("the nginx target renders %s and %s only, not %s", kong.MTLSAuthName, kong.ACLName, admin.String(e["name"])))
		}
		p, err := r.compileMTLS(e, len(plugins)+1, cas)
		if err != nil {
			return nil, err
		}
		ids := slices.Sorted(slices.Values(p.caIDs))
		if caSet == nil {
			caSet = ids
		} else if !slices.Equal(caSet, ids) {
			return nil, unsupported("plugin", e, "config.ca_certificates",
				"every enabled mtls-auth plugin must trust the same CAs: nginx verifies client certificates per listener, before routing")
		}
		plugins[scoped{admin.RefID(e["route"]), admin.RefID(e["service"])}] = p
		m.mtls = append(m.mtls, p)
	}
	for _, id := range caSet {
		m.clientCAs = append(m.clientCAs, caPEM[id]...)
		m.caDNs[cas[id].Subject.String()] = id
	}

	// Upstream entities become nginx upstream blocks.
	balancers := map[string]*balancer{}
	for _, e := range r.snap.List("upstreams") {
		b := &balancer{name: admin.String(e["name"]), hostHeader: admin.String(e["host_header"])}
		if id := admin.RefID(e["client_certificate"]); id != "" {
			b.clientCert = certs[id]
		}
		b.block = &upstreamBlock{name: "mtlsgate_upstream_" + strings.ReplaceAll(admin.String(e["id"]), "-", "")}
		balancers[admin.String(e["id"])] = b
		balancers["name:"+b.name] = b
	}
	for _, e := range r.snap.List("targets") {
		b := balancers[admin.RefID(e["upstream"])]
		if b == nil || admin.Int(e["weight"]) <= 0 {
			continue
		}
		t := admin.String(e["target"])
		if err := checkHostPort(t); err != nil {
			return nil, unsupported("target", e, "target", err.Error())
		}
		b.block.servers = append(b.block.servers, fmt.Sprintf("%s weight=%d", t, admin.Int(e["weight"])))
	}

	services := map[string]admin.Entity{}
	for _, e := range r.snap.List("services") {
		services[admin.String(e["id"])] = e
	}
	for _, e := range r.snap.List("routes") {
		for _, f := range []string{"methods", "headers"} {
			if v := e[f]; v != nil && !empty(v) {
				return nil, unsupported("route", e, f, "the nginx target routes by paths, hosts and snis only")
			}
		}
		protos := admin.Strings(e["protocols"])
		if len(protos) == 0 {
			protos = []string{"http", "https"}
		}
		if !slices.Contains(protos, "http") && !slices.Contains(protos, "https") {
			return nil, unsupported("route", e, "protocols", "the nginx target proxies http and https only")
		}
		if code := admin.Int(e["https_redirect_status_code"]); code != 0 && code != 426 {
			return nil, unsupported("route", e, "https_redirect_status_code", "the nginx target answers 426 only")
		}
		var hosts []string
		for _, h := range admin.Strings(e["hosts"]) {
			h = strings.ToLower(h)
			if !routeHost.MatchString(h) {
				return nil, unsupported("route", e, "hosts", fmt.Sprintf("%q: the nginx target renders names with one leading or trailing '*' and no port", h))
			}
			hosts = append(hosts, h)
		}
		var snis []string
		for _, s := range admin.Strings(e["snis"]) {
			snis = append(snis, strings.TrimSuffix(strings.ToLower(s), "."))
		}
		paths := admin.Strings(e["paths"])
		if len(paths) == 0 {
			paths = []string{""}
		}
		for _, p := range paths {
			if p != "" && !safePath.MatchString(p) {
				return nil, unsupported("route", e, "paths", fmt.Sprintf("%q is not a plain prefix (letters, digits and /._~-): regex paths are not rendered", p))
			}
			loc := &location{path: p, routeID: admin.String(e["id"]), strip: e["strip_path"] == true, preserve: e["preserve_host"] == true,
				hosts: hosts, snis: snis, protocols: protos, createdAt: admin.Int(e["created_at"])}
			loc.priority = kong.RoutePriority(kong.RouteAttributes{SNIs: snis, Hosts: hosts}, p)
			for _, k := range []scoped{{loc.routeID, admin.RefID(e["service"])}, {loc.routeID, ""}, {"", admin.RefID(e["service"])}, {"", ""}} {
				if p := plugins[k]; p != nil && loc.plugin == nil {
					loc.plugin = p
				}
				if a := acls[k]; a != nil && loc.acl == nil {
					loc.acl = a
				}
			}
			if loc.acl != nil {
				m.aclUses = append(m.aclUses, aclUse{acl: loc.acl, mtls: loc.plugin})
			}
			m.locations = append(m.locations, loc)
			svc := services[admin.RefID(e["service"])]
			if svc == nil || svc["enabled"] == false {
				loc.fixed, loc.status = kong.MsgNoService, 503
				continue
			}
			t, err := r.serviceTarget(svc, balancers["name:"+admin.String(svc["host"])], certs, caPEM)
			if err != nil {
				return nil, err
			}
			if t == nil {
				loc.fixed, loc.status = kong.MsgNoPeer, 503
			}
			loc.svc = t
			loc.rewrites, loc.prefixHdr = rewrites(p, loc.strip, admin.String(svc["path"]))
		}
	}
	// Kong's order: more attribute kinds first, plain hosts over wildcards, longer paths, then
	// the older route (kong/router/compat.lua, as reference/kong's router does it).
	sort.SliceStable(m.locations, func(i, j int) bool {
		a, b := m.locations[i], m.locations[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		if a.createdAt != b.createdAt {
			return a.createdAt < b.createdAt
		}
		return a.routeID < b.routeID
	})
	for i, loc := range m.locations {
		loc.id = "r" + strconv.Itoa(i)
	}
	// One nginx location per distinct path; each dispatches among every route piece whose path
	// is a prefix of it (nginx picks the longest prefix, Kong the best priority).
	keys := map[string]bool{"/": true}
	for _, loc := range m.locations {
		if loc.path != "" {
			keys[loc.path] = true
		}
	}
	for _, k := range sortedKeys(keys) {
		d := &dispatch{path: k, variable: "$mtlsgate_route_" + strconv.Itoa(len(m.dispatches))}
		for _, loc := range m.locations {
			if strings.HasPrefix(k, loc.path) {
				d.candidates = append(d.candidates, loc)
			}
		}
		m.dispatches = append(m.dispatches, d)
	}
	for k, b := range balancers {
		if !strings.HasPrefix(k, "name:") && len(b.block.servers) > 0 {
			m.upstreams = append(m.upstreams, b.block)
		}
	}
	sort.Slice(m.upstreams, func(i, j int) bool { return m.upstreams[i].name < m.upstreams[j].name })
	for _, p := range m.mtls {
		r.consumerLookup(p, m)
	}
	return m, nil
}

// safePath and hostName are what the renderer writes into rewrites and upstream addresses
// verbatim; anything else is refused rather than escaped.
var (
	safePath  = regexp.MustCompile(`^/[A-Za-z0-9/._~-]*$`)
	hostName  = regexp.MustCompile(`^[A-Za-z0-9.:_-]+$`)
	routeHost = regexp.MustCompile(`^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?$`)
	sniName   = regexp.MustCompile(`^(\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?)$`)
)

// compileMTLS checks an mtls-auth configuration against what nginx can do.
func (r *renderer) compileMTLS(e admin.Entity, n int, cas map[string]*x509.Certificate) (*mtlsPlugin, error) {
	cfg, _ := e["config"].(map[string]any)
	p := &mtlsPlugin{n: strconv.Itoa(n), id: admin.String(e["id"]), consumerBy: admin.Strings(cfg["consumer_by"]), defaultConsumer: admin.String(cfg["default_consumer"])}
	if cfg["consumer_by"] == nil {
		p.consumerBy = []string{"username", "custom_id"}
	}
	for _, id := range admin.Strings(cfg["ca_certificates"]) {
		c, ok := cas[id]
		if !ok {
			return nil, unsupported("plugin", e, "config.ca_certificates", fmt.Sprintf("CA Certificate '%s' does not exist", id))
		}
		if string(c.RawIssuer) != string(c.RawSubject) {
			return nil, unsupported("plugin", e, "config.ca_certificates", "an intermediate CA as a trust anchor needs allow_partial_chain, which nginx cannot do")
		}
		p.caIDs = append(p.caIDs, id)
	}
	p.anonymous = admin.String(cfg["anonymous"])
	p.skipLookup = cfg["skip_consumer_lookup"] == true
	p.groupByCN = admin.String(cfg["authenticated_group_by"]) != "DN"
	switch {
	case p.skipLookup && r.s.NJSModule == "":
		return nil, unsupported("plugin", e, "config.skip_consumer_lookup", "X-Client-Cert-SAN needs the certificate's SANs, which nginx exposes only through the njs module (apt-get install -y libnginx-mod-http-js)")
	case cfg["allow_partial_chain"] == true:
		return nil, unsupported("plugin", e, "config.allow_partial_chain", "nginx has no partial-chain setting")
	case admin.String(cfg["revocation_check_mode"]) == "STRICT":
		return nil, unsupported("plugin", e, "config.revocation_check_mode", "nginx does not fetch CRLs from distribution points, so STRICT would refuse every certificate")
	}
	return p, nil
}

// consumerLookup gives the plugin reference/kong's consumer lookup: whole, as the table the njs
// script walks (lookupTable), and precomputed for the one name nginx exposes without njs, the
// subject CN, for every CA that may have issued the leaf (SPEC K-MTLS-4 without SANs).
func (r *renderer) consumerLookup(p *mtlsPlugin, m *model) {
	ix := kong.IndexConsumers(r.snap)
	if p.defaultConsumer != "" {
		id, found := ix.Resolve(p.defaultConsumer)
		if found {
			p.defaultConsumer = id
		}
		p.defaultMissing = !found
	}
	if p.anonymous != "" {
		id, found := ix.Resolve(p.anonymous)
		if found {
			p.anonymous = id
		}
		p.anonymousMissing = !found
	}
	p.table = lookupTable{Creds: ix.Credentials, ByUsername: ix.ByUsername, ByCustomID: ix.ByCustomID, ConsumerBy: p.consumerBy}
	if !p.defaultMissing {
		p.table.Default = p.defaultConsumer
	}
	names := map[string]bool{}
	for n := range ix.Credentials {
		names[n] = true
	}
	for _, c := range m.consumers {
		names[c.username], names[c.customID] = true, true
	}
	delete(names, "")
	p.lookup = map[string]string{}
	for name := range names {
		for _, ca := range append([]string{""}, p.caIDs...) {
			if id, ok := ix.Lookup([]string{name}, ca, p.consumerBy); ok {
				p.lookup[ca+"|"+name] = id
			}
		}
	}
}

// balancer is an upstreams entity: an nginx upstream block and its client certificate.
type balancer struct {
	name, hostHeader string
	clientCert       *KeyPair
	block            *upstreamBlock
}

// serviceTarget resolves where and how a service is proxied, with Kong's precedence for the
// client certificate (service > upstream > global) and verification (service > global); nil
// means an upstream entity without targets.
func (r *renderer) serviceTarget(svc admin.Entity, b *balancer, certs map[string]*KeyPair, caPEM map[string][]byte) (*serviceTarget, error) {
	t := &serviceTarget{
		scheme: admin.String(svc["protocol"]), connect: admin.Int(svc["connect_timeout"]), read: admin.Int(svc["read_timeout"]), write: admin.Int(svc["write_timeout"]),
	}
	if t.scheme != "http" && t.scheme != "https" {
		return nil, unsupported("service", svc, "protocol", fmt.Sprintf("%q: the nginx target proxies http and https only", t.scheme))
	}
	host, port := admin.String(svc["host"]), admin.Int(svc["port"])
	if sp := admin.String(svc["path"]); sp != "" && !safePath.MatchString(sp) {
		return nil, unsupported("service", svc, "path", fmt.Sprintf("%q: the nginx target renders paths of letters, digits and /._~- only", sp))
	}
	switch {
	case b != nil:
		if len(b.block.servers) == 0 {
			return nil, nil
		}
		t.hostport, t.sni = b.block.name, b.name
		t.hostHeader = b.name
		if b.hostHeader != "" {
			t.hostHeader = b.hostHeader
		}
		t.clientCert = b.clientCert
	default:
		hp := net.JoinHostPort(host, strconv.FormatInt(port, 10))
		if err := checkHostPort(hp); err != nil {
			return nil, unsupported("service", svc, "host", err.Error())
		}
		t.hostport, t.sni, t.hostHeader = hp, host, hp
		if (t.scheme == "http" && port == 80) || (t.scheme == "https" && port == 443) {
			t.hostHeader = host
		}
	}
	if id := admin.RefID(svc["client_certificate"]); id != "" {
		c := certs[id]
		if c == nil {
			return nil, unsupported("service", svc, "client_certificate", fmt.Sprintf("certificate %s does not exist", id))
		}
		t.clientCert = c
	}
	if v, ok := svc["tls_verify"].(bool); ok {
		t.verify = &v
	}
	for _, id := range admin.Strings(svc["ca_certificates"]) {
		p, ok := caPEM[id]
		if !ok {
			return nil, unsupported("service", svc, "ca_certificates", fmt.Sprintf("CA Certificate '%s' does not exist", id))
		}
		t.trustedPEM = append(t.trustedPEM, p...)
	}
	if d, ok := svc["tls_verify_depth"]; ok && d != nil {
		v := admin.Int(d)
		t.depth = &v
	}
	return t, nil
}

// rewrites renders Kong's v0 path joining (kong/router/utils.lua get_upstream_uri_v0) for one
// route path as nginx rewrites, tried in order; prefix is X-Forwarded-Prefix ("" for none).
func rewrites(path string, strip bool, base string) ([][2]string, string) {
	if base == "" {
		base = "/"
	}
	q := regexp.QuoteMeta(path)
	if path == "" {
		q = ""
	}
	var out [][2]string
	add := func(re, to string) { out = append(out, [2]string{re, to}) }
	trimmed := strings.TrimSuffix(base, "/")
	switch {
	case strip && strings.HasSuffix(base, "/"):
		// postfix empty: "/" stays "/", a request ending in "/" keeps base, else base without "/"
		exact := trimmed
		if base == "/" {
			exact = "/"
		} else if strings.HasSuffix(path, "/") {
			exact = base
		}
		if path != "" {
			add("^"+q+"$", exact)
		}
		add("^"+q+"(/.*)$", trimmed+"$1")
		add("^"+q+"(.*)$", base+"$1")
	case strip:
		exact := base
		if len(path) > 1 && strings.HasSuffix(path, "/") {
			exact = base + "/"
		}
		if path != "" {
			add("^"+q+"$", exact)
		}
		add("^"+q+"(/.*)$", base+"$1")
		add("^"+q+"(.*)$", base+"/$1")
	case strings.HasSuffix(base, "/"):
		add("^/(.*)$", base+"$1")
	default:
		add("^/$", base)
		add("^(.*)$", base+"$1")
	}
	prefix := ""
	if strip && path != "" {
		prefix = path
	}
	return out, prefix
}
