package kong

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong/admin"
)

// runtime is everything the proxy needs, compiled from one admin snapshot. It is immutable:
// each Admin API change compiles a new one and swaps it in atomically.
type runtime struct {
	version   uint64
	router    *router
	plugins   map[pluginKey]*pluginInstance
	consumers map[string]*consumer // by id
	// consumerIndex is what mtls-auth's consumer lookup searches.
	consumerIndex ConsumerIndex
	caCerts       map[string]*x509.Certificate
	// requestClientCert is set when any mtls-auth plugin is enabled: the TLS handshake then asks
	// for a certificate (without verifying it; the plugin does).
	requestClientCert bool
	// caNames, when any mtls-auth plugin sets send_ca_dn, are the CAs advertised in the
	// CertificateRequest.
	caNames *x509.CertPool
	// snis maps SNI entity names (exact, "*.x", "x.*" or "*") to their certificate.
	snis map[string]*certPair
}

// service is a compiled Service entity.
type service struct {
	id, name       string
	protocol, host string
	port           int
	path           string
	connectTimeout time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	enabled        bool
	// balancer is set when host names an upstreams entity.
	balancer *balancer
	tls      upstreamTLS
	// transportKey identifies the connection settings; services with equal keys share pooled
	// upstream connections, and any change of identity or trust makes a new key.
	transportKey string
}

type consumer struct {
	id, username, customID string
	groups                 []string
}

// pluginKey scopes a plugin instance: name plus route, service and consumer ids ("" = any).
type pluginKey struct{ name, route, service, consumer string }

type pluginInstance struct {
	id        string
	name      string
	protocols []string
	handler   pluginHandler
}

// compile builds a runtime from a snapshot; an error means the snapshot cannot be served and
// the Admin API change that produced it is rejected.
func compile(snap *admin.Snapshot, g globals, plugins *pluginRegistry) (*runtime, error) {
	rt := &runtime{
		version: snap.Version(), plugins: map[pluginKey]*pluginInstance{},
		consumers: map[string]*consumer{}, consumerIndex: IndexConsumers(snap), caCerts: map[string]*x509.Certificate{},
		snis: map[string]*certPair{},
	}
	for _, e := range snap.List("ca_certificates") {
		block, _ := pem.Decode([]byte(admin.String(e["cert"])))
		if block == nil {
			return nil, fmt.Errorf("ca_certificate %s: not PEM", admin.String(e["id"]))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca_certificate %s: %w", admin.String(e["id"]), err)
		}
		rt.caCerts[admin.String(e["id"])] = c
	}

	certs := map[string]*certPair{}
	for _, e := range snap.List("certificates") {
		c, err := compileCertificate(e)
		if err != nil {
			return nil, err
		}
		certs[c.id] = c
	}
	for _, e := range snap.List("snis") {
		if c := certs[admin.RefID(e["certificate"])]; c != nil {
			rt.snis[strings.ToLower(admin.String(e["name"]))] = c
		}
	}
	balancers := map[string]*balancer{}
	for _, e := range snap.List("upstreams") {
		b := &balancer{name: admin.String(e["name"]), hostHeader: admin.String(e["host_header"]), next: new(atomic.Uint64)}
		if id := admin.RefID(e["client_certificate"]); id != "" {
			b.clientCert = certs[id]
		}
		balancers[admin.String(e["id"])] = b
		balancers["name:"+b.name] = b
	}
	for _, e := range snap.List("targets") {
		b := balancers[admin.RefID(e["upstream"])]
		t, err := parseTarget(admin.String(e["target"]))
		if err != nil || b == nil {
			continue
		}
		t.weight = int(admin.Int(e["weight"]))
		if t.weight > 0 {
			b.targets = append(b.targets, t)
			b.total += t.weight
		}
	}

	services := map[string]*service{}
	for _, e := range snap.List("services") {
		s := &service{
			id: admin.String(e["id"]), name: admin.String(e["name"]), protocol: admin.String(e["protocol"]), host: admin.String(e["host"]),
			port: int(admin.Int(e["port"])), path: admin.String(e["path"]), enabled: e["enabled"] != false,
			connectTimeout: time.Duration(admin.Int(e["connect_timeout"])) * time.Millisecond,
			readTimeout:    time.Duration(admin.Int(e["read_timeout"])) * time.Millisecond,
			writeTimeout:   time.Duration(admin.Int(e["write_timeout"])) * time.Millisecond,
			balancer:       balancers["name:"+admin.String(e["host"])],
		}
		t, err := resolveTLS(s, e, certs, rt.caCerts, g)
		if err != nil {
			return nil, err
		}
		s.tls = t
		s.transportKey = strings.Join([]string{s.protocol, s.connectTimeout.String(), s.readTimeout.String(), s.writeTimeout.String(), t.key}, "|")
		services[s.id] = s
	}

	var routes []*route
	paths := map[*route][]string{}
	for _, e := range snap.List("routes") {
		r := &route{
			id: admin.String(e["id"]), name: admin.String(e["name"]), createdAt: admin.Int(e["created_at"]),
			protocols: admin.Strings(e["protocols"]), methods: admin.Strings(e["methods"]), snis: admin.Strings(e["snis"]),
			stripPath: e["strip_path"] == true, preserveHost: e["preserve_host"] == true,
			redirectStatus: int(admin.Int(e["https_redirect_status_code"])), regexPriority: int(admin.Int(e["regex_priority"])),
		}
		for i, s := range r.snis {
			r.snis[i] = strings.TrimSuffix(strings.ToLower(s), ".")
		}
		for _, h := range admin.Strings(e["hosts"]) {
			r.hosts = append(r.hosts, newHostMatcher(h))
		}
		if hm, ok := e["headers"].(map[string]any); ok && len(hm) > 0 {
			r.headers = map[string][]string{}
			for name, vals := range hm {
				for _, v := range admin.Strings(vals) {
					if !strings.HasPrefix(v, "~*") {
						v = strings.ToLower(v)
					}
					r.headers[strings.ToLower(name)] = append(r.headers[strings.ToLower(name)], v)
				}
			}
		}
		if id := admin.RefID(e["service"]); id != "" {
			r.service = services[id]
		}
		routes = append(routes, r)
		paths[r] = admin.Strings(e["paths"])
	}
	rt.router = newRouter(routes, paths)

	for _, e := range snap.List("consumers") {
		c := &consumer{id: admin.String(e["id"]), username: admin.String(e["username"]), customID: admin.String(e["custom_id"])}
		rt.consumers[c.id] = c
	}
	for _, e := range snap.List("acls") {
		if c := rt.consumers[admin.RefID(e["consumer"])]; c != nil {
			c.groups = append(c.groups, admin.String(e["group"]))
		}
	}

	for _, e := range snap.List("plugins") {
		if e["enabled"] == false {
			continue
		}
		p := &pluginInstance{id: admin.String(e["id"]), name: admin.String(e["name"]), protocols: admin.Strings(e["protocols"])}
		cfg, _ := e["config"].(map[string]any)
		def, ok := plugins.byName[p.name]
		if !ok {
			return nil, fmt.Errorf("plugin %s: %q is not a plugin the reference implements", p.id, p.name)
		}
		h, err := def.compile(rt, cfg)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", p.id, err)
		}
		p.handler = h
		key := pluginKey{name: p.name, route: admin.RefID(e["route"]), service: admin.RefID(e["service"]), consumer: admin.RefID(e["consumer"])}
		rt.plugins[key] = p
	}
	return rt, nil
}

// plugin returns the instance of a plugin that applies to a request, by Kong's precedence:
// the more specific the scope, the higher it wins.
func (rt *runtime) plugin(name string, r *route, consumerID string) *pluginInstance {
	routeID, serviceID := "", ""
	if r != nil {
		routeID = r.id
		if r.service != nil {
			serviceID = r.service.id
		}
	}
	order := []pluginKey{
		{name, routeID, serviceID, consumerID},
		{name, routeID, "", consumerID},
		{name, "", serviceID, consumerID},
		{name, routeID, serviceID, ""},
		{name, "", "", consumerID},
		{name, routeID, "", ""},
		{name, "", serviceID, ""},
		{name, "", "", ""},
	}
	for _, k := range order {
		if p, ok := rt.plugins[k]; ok {
			return p
		}
	}
	return nil
}

// runsOn reports whether the plugin handles a request of this scheme.
func (p *pluginInstance) runsOn(scheme string) bool {
	return len(p.protocols) == 0 || slices.Contains(p.protocols, scheme)
}

// compileCertificate loads a certificates entity's pair and alternative pair.
func compileCertificate(e map[string]any) (*certPair, error) {
	id := admin.String(e["id"])
	main, err := tls.X509KeyPair([]byte(admin.String(e["cert"])), []byte(admin.String(e["key"])))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", id, err)
	}
	c := &certPair{id: id, main: main}
	if e["cert_alt"] != nil && e["key_alt"] != nil {
		alt, err := tls.X509KeyPair([]byte(admin.String(e["cert_alt"])), []byte(admin.String(e["key_alt"])))
		if err != nil {
			return nil, fmt.Errorf("certificate %s: alternative pair: %w", id, err)
		}
		c.alt = &alt
	}
	return c, nil
}

// certificateFor chooses the server certificate for an SNI as Kong does: exact name, then the
// first label as "*" (three labels or more), then the last label as "*", then the "*" entity;
// nil means the default certificate.
func (rt *runtime) certificateFor(sni string) *certPair {
	sni = strings.TrimSuffix(strings.ToLower(sni), ".")
	if sni == "" {
		return nil
	}
	if c := rt.snis[sni]; c != nil {
		return c
	}
	if labels := strings.Split(sni, "."); len(labels) >= 3 {
		if c := rt.snis["*."+strings.Join(labels[1:], ".")]; c != nil {
			return c
		}
	}
	if i := strings.LastIndexByte(sni, '.'); i > 0 {
		if c := rt.snis[sni[:i]+".*"]; c != nil {
			return c
		}
	}
	return rt.snis["*"]
}
