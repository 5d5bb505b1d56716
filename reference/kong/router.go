package kong

import (
	"net"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// route is a compiled Route entity, ready to match requests.
type route struct {
	id, name       string
	createdAt      int64
	protocols      []string
	methods        []string
	hosts          []hostMatcher
	headers        map[string][]string // lowercase name → lowercase values ("~*…" regexes kept verbatim)
	snis           []string
	stripPath      bool
	preserveHost   bool
	redirectStatus int
	regexPriority  int
	service        *service
}

type hostMatcher struct {
	host string // lowercase, without the wildcard
	kind byte   // '=' exact, '*' suffix (*.example.com), '.' prefix (example.*)
	port string // "" for any
}

func newHostMatcher(h string) hostMatcher {
	h = strings.ToLower(h)
	m := hostMatcher{kind: '='}
	if host, port, err := net.SplitHostPort(h); err == nil {
		h, m.port = host, port
	}
	switch {
	case strings.HasPrefix(h, "*."):
		m.kind, m.host = '*', h[1:] // ".example.com"
	case strings.HasSuffix(h, ".*"):
		m.kind, m.host = '.', h[:len(h)-1] // "example."
	default:
		m.host = h
	}
	return m
}

func (m hostMatcher) match(host, port string) bool {
	if m.port != "" && m.port != port {
		return false
	}
	switch m.kind {
	case '*':
		return strings.HasSuffix(host, m.host)
	case '.':
		return strings.HasPrefix(host, m.host)
	}
	return host == m.host
}

// routePiece is one of the internal routes Kong's compat router splits a route into: all its
// plain paths of one length, or all its regex paths. Each piece has its own priority.
type routePiece struct {
	route    *route
	prefixes []string
	regexes  []*regexp.Regexp
	priority uint64
}

// Kong's priority layout (kong/router/compat.lua get_priority): more attribute kinds first, then
// plain hosts over wildcards, more headers, regex over prefix paths, regex_priority, longer prefix.
const (
	matchWeightShift = 61
	plainHostOnlyBit = uint64(1) << 60
	headerCountShift = 52
	regexURLBit      = uint64(1) << 51
	regexPrioShift   = 19
	maxPathLength    = (uint64(1) << 19) - 1
)

// RouteAttributes are what Kong's route priority weighs of a route besides its paths.
type RouteAttributes struct {
	SNIs, Methods, Hosts []string
	// Headers is the number of header names the route matches on.
	Headers int
	// RegexPriority is the route's regex_priority, which orders its regex paths.
	RegexPriority int
}

// RoutePriority is Kong's priority (kong/router/compat.lua get_priority) of the piece of a route
// that serves path: "" for a route without paths, a "~" regex path, or a plain prefix. Of two
// routes that both match, the higher priority wins; equal ones go to the older route. Renderers
// order their locations by it.
func RoutePriority(r RouteAttributes, path string) uint64 {
	plain := len(r.Hosts) > 0 && !slices.ContainsFunc(r.Hosts, func(h string) bool { return newHostMatcher(h).kind != '=' })
	base := priorityBase(len(r.SNIs) > 0, len(r.Methods) > 0, len(r.Hosts) > 0, plain, r.Headers, path != "")
	switch {
	case path == "":
		return base
	case strings.HasPrefix(path, "~"):
		return regexPriority(base, r.RegexPriority)
	}
	return prefixPriority(base, len(path))
}

// priorityBase is the part of a route's priority its paths do not change.
func priorityBase(snis, methods, hosts, plainHostsOnly bool, headers int, paths bool) uint64 {
	weight := uint64(0)
	for _, set := range []bool{snis, methods, hosts, headers > 0, paths} {
		if set {
			weight++
		}
	}
	base := weight << matchWeightShift
	if plainHostsOnly {
		base |= plainHostOnlyBit
	}
	return base | uint64(min(headers, 255))<<headerCountShift
}

// regexPriority is the priority of a route's regex paths.
func regexPriority(base uint64, regexPriority int) uint64 {
	return base | regexURLBit | uint64(uint32(regexPriority))<<regexPrioShift
}

// prefixPriority is the priority of a route's plain paths of one length.
func prefixPriority(base uint64, length int) uint64 {
	return base | min(uint64(length), maxPathLength)
}

func (r *route) pieces(paths []string) []routePiece {
	plain := len(r.hosts) > 0 && !slices.ContainsFunc(r.hosts, func(h hostMatcher) bool { return h.kind != '=' })
	base := priorityBase(len(r.snis) > 0, len(r.methods) > 0, len(r.hosts) > 0, plain, len(r.headers), len(paths) > 0)

	if len(paths) == 0 {
		return []routePiece{{route: r, priority: base}}
	}
	byLen := map[int][]string{}
	var regexes []*regexp.Regexp
	for _, p := range paths {
		if strings.HasPrefix(p, "~") {
			// validated at write time; an invalid regex never reaches here
			if re, err := compilePathRegex(p); err == nil {
				regexes = append(regexes, re)
			}
			continue
		}
		byLen[len(p)] = append(byLen[len(p)], p)
	}
	var out []routePiece
	if len(regexes) > 0 {
		out = append(out, routePiece{route: r, regexes: regexes, priority: regexPriority(base, r.regexPriority)})
	}
	for l, ps := range byLen {
		out = append(out, routePiece{route: r, prefixes: ps, priority: prefixPriority(base, l)})
	}
	return out
}

// compilePathRegex turns a Kong regex path ("~/users/\d+") into an anchored Go regexp.
func compilePathRegex(p string) (*regexp.Regexp, error) {
	expr := strings.ReplaceAll(strings.TrimPrefix(p, "~"), "?<", "?P<")
	return regexp.Compile("^(?:" + expr + ")")
}

// router holds every route piece, best first.
type router struct{ pieces []routePiece }

func newRouter(routes []*route, paths map[*route][]string) *router {
	var all []routePiece
	for _, r := range routes {
		all = append(all, r.pieces(paths[r])...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		if a.route.createdAt != b.route.createdAt {
			return a.route.createdAt < b.route.createdAt
		}
		return a.route.id < b.route.id
	})
	return &router{pieces: all}
}

// request is what the router looks at.
type request struct {
	scheme  string // http or https
	method  string
	host    string // lowercase, without port
	port    string
	path    string // decoded, dot segments removed
	headers func(name string) []string
	sni     string
}

// match is a routing decision.
type match struct {
	route *route
	// prefix is the matched path part when strip_path is on ("" otherwise).
	prefix string
	// upstreamPath is the path to send upstream (service path joined per Kong's v0 rules).
	upstreamPath string
}

// find returns the best route for req, or nil.
func (rt *router) find(req request) *match {
	for _, p := range rt.pieces {
		matched, ok := p.match(req)
		if !ok {
			continue
		}
		m := &match{route: p.route}
		if p.route.stripPath && matched != "" {
			m.prefix = matched
		}
		base := "/"
		if p.route.service != nil && p.route.service.path != "" {
			base = p.route.service.path
		}
		m.upstreamPath = upstreamURIv0(p.route.stripPath, matched, req.path, base)
		return m
	}
	return nil
}

// sniMatch matches a route's SNI against the client's, as Kong's router (kong/router/transform.lua)
// does: "*.example.test" matches any name ending in ".example.test", "api.*" any name starting
// with "api.", anything else the name itself; a trailing dot of the client's name is ignored.
func sniMatch(pattern, sni string) bool {
	sni = strings.ToLower(sni)
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(sni, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(strings.TrimSuffix(sni, "."), pattern[1:])
	}
	return strings.TrimSuffix(sni, ".") == pattern
}

// match checks every attribute of the piece; it returns the matched path text.
func (p routePiece) match(req request) (string, bool) {
	r := p.route
	if len(r.methods) > 0 && !slices.Contains(r.methods, req.method) {
		return "", false
	}
	if len(r.hosts) > 0 && !slices.ContainsFunc(r.hosts, func(h hostMatcher) bool { return h.match(req.host, req.port) }) {
		return "", false
	}
	if len(r.snis) > 0 && req.scheme == "https" && !slices.ContainsFunc(r.snis, func(s string) bool { return sniMatch(s, req.sni) }) {
		return "", false
	}
	for name, want := range r.headers {
		got := req.headers(name)
		if !slices.ContainsFunc(want, func(w string) bool {
			return slices.ContainsFunc(got, func(g string) bool { return headerValueMatch(w, g) })
		}) {
			return "", false
		}
	}
	switch {
	case len(p.prefixes) > 0:
		for _, pre := range p.prefixes {
			if strings.HasPrefix(req.path, pre) {
				return pre, true
			}
		}
		return "", false
	case len(p.regexes) > 0:
		for _, re := range p.regexes {
			if loc := re.FindStringIndex(req.path); loc != nil {
				return req.path[:loc[1]], true
			}
		}
		return "", false
	}
	return "", true
}

func headerValueMatch(want, got string) bool {
	if strings.HasPrefix(want, "~*") {
		re, err := regexp.Compile("(?i)" + want[2:])
		return err == nil && re.MatchString(got)
	}
	return want == strings.ToLower(got)
}

// UpstreamPath is the path Kong sends upstream (get_upstream_uri_v0, the traditional_compatible
// router's): the service path base, and the request path reqURI with the matched route path
// removed when stripPath. Renderers that rewrite paths are checked against it.
func UpstreamPath(stripPath bool, matched, reqURI, base string) string {
	return upstreamURIv0(stripPath, matched, reqURI, base)
}

// upstreamURIv0 is Kong's get_upstream_uri_v0 (kong/router/utils.lua): service path, route path
// and request path joined as URL segments. traditional_compatible always uses it.
func upstreamURIv0(stripPath bool, matched, reqURI, base string) string {
	postfix := reqURI
	if stripPath {
		postfix = reqURI[len(matched):]
	} else if len(postfix) > 0 {
		postfix = postfix[1:]
	}
	postfix = sanitizePostfix(postfix)
	if strings.HasSuffix(base, "/") {
		if stripPath {
			if postfix == "" {
				if base == "/" {
					return "/"
				}
				if strings.HasSuffix(reqURI, "/") {
					return base
				}
				return base[:len(base)-1]
			}
			if postfix[0] == '/' {
				return base[:len(base)-1] + postfix
			}
			return base + postfix
		}
		return base + reqURI[1:]
	}
	if stripPath {
		if postfix == "" {
			if len(reqURI) > 1 && strings.HasSuffix(reqURI, "/") {
				return base + "/"
			}
			return base
		}
		if postfix[0] == '/' {
			return base + postfix
		}
		return base + "/" + postfix
	}
	if reqURI == "/" {
		return base
	}
	return base + reqURI
}

func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}

// normalizePath removes dot segments as kong.tools.uri.normalize does, keeping a trailing slash.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}
