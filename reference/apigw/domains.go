package apigw

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
)

var (
	// A base path segment: the characters API Gateway allows in a base path name.
	basePathSegment = regexp.MustCompile(`^[A-Za-z0-9$\-_.+!*'()]+$`)
	// A stage name: alphanumerics, hyphens and underscores, at most 128 characters.
	stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// A DNS label of a custom domain name.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// table is an immutable, validated copy of the domains, swapped whole by SetDomains.
type table struct {
	byName map[string]*domainRoutes
	order  []string
}

type domainRoutes struct {
	name string
	// mappings, longest base path first, so /v1/admin wins over /v1 and the root mapping.
	mappings []route
}

type route struct {
	segments []string // nil for the root mapping
	mapping  Mapping  // as given, API defaulted
}

// newTable validates ds and builds the routing table; the first problem found is returned with
// the field that holds it and how to fix it.
func newTable(ds []Domain) (*table, error) {
	t := &table{byName: make(map[string]*domainRoutes, len(ds))}
	first := map[string]int{}
	for i, d := range ds {
		field := fmt.Sprintf("domains[%d]", i)
		name, err := domainName(d.Name)
		if err != nil {
			return nil, fmt.Errorf("%s.name: %w", field, err)
		}
		if j, dup := first[name]; dup {
			return nil, fmt.Errorf("%s.name: %q is already domains[%d]: give each custom domain name once, with all its mappings", field, d.Name, j)
		}
		first[name] = i
		dr := &domainRoutes{name: name}
		seen := map[string]int{}
		for k, m := range d.Mappings {
			mfield := fmt.Sprintf("%s.mappings[%d]", field, k)
			r, err := newRoute(m)
			if err != nil {
				return nil, fmt.Errorf("%s.%w", mfield, err)
			}
			key := strings.Join(r.segments, "/")
			if j, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s.basePath: %q is already mapped by mappings[%d]: a base path maps to one stage", mfield, displayBasePath(m.BasePath), j)
			}
			seen[key] = k
			dr.mappings = append(dr.mappings, r)
		}
		slices.SortStableFunc(dr.mappings, func(a, b route) int { return len(b.segments) - len(a.segments) })
		t.byName[name] = dr
		t.order = append(t.order, name)
	}
	return t, nil
}

// domainName checks and normalises a custom domain name (lower case, no trailing dot).
func domainName(s string) (string, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("empty: set it to the custom domain name clients send as Host, e.g. api.example.test")
	case strings.Contains(s, "://") || strings.ContainsAny(s, "/:"):
		return "", fmt.Errorf("%q is not a bare host name: drop the scheme, port and path", s)
	case strings.Contains(s, "*"):
		return "", fmt.Errorf("%q: wildcard custom domain names are not supported by the stand-in: name each domain", s)
	}
	n := strings.TrimSuffix(strings.ToLower(s), ".")
	if len(n) > 253 {
		return "", fmt.Errorf("%q is longer than 253 characters", s)
	}
	for _, l := range strings.Split(n, ".") {
		if !dnsLabel.MatchString(l) {
			return "", fmt.Errorf("%q is not a valid DNS name (label %q): use letters, digits and hyphens, 1–63 per label", s, l)
		}
	}
	return n, nil
}

func newRoute(m Mapping) (route, error) {
	if m.API == "" {
		m.API = APIPetStore
	}
	if m.API != APIPetStore {
		return route{}, fmt.Errorf("api: unknown API %q: the stand-in serves only %q", m.API, APIPetStore)
	}
	if !stageName.MatchString(m.Stage) {
		if m.Stage == "" {
			return route{}, fmt.Errorf("stage: empty: name the stage the mapping points at, e.g. prod")
		}
		return route{}, fmt.Errorf("stage: %q is not a stage name: use 1–128 letters, digits, '-' or '_'", m.Stage)
	}
	r := route{mapping: m}
	if m.BasePath == "" || m.BasePath == RootBasePath {
		return r, nil
	}
	if strings.HasPrefix(m.BasePath, "/") || strings.HasSuffix(m.BasePath, "/") {
		return route{}, fmt.Errorf("basePath: %q: write it without leading or trailing '/' (e.g. %q), or \"(none)\" for the root", m.BasePath, strings.Trim(m.BasePath, "/"))
	}
	for _, seg := range strings.Split(m.BasePath, "/") {
		if !basePathSegment.MatchString(seg) {
			return route{}, fmt.Errorf("basePath: %q: segment %q must be non-empty and use only letters, digits and $-_.+!*'()", m.BasePath, seg)
		}
		r.segments = append(r.segments, seg)
	}
	return r, nil
}

func displayBasePath(p string) string {
	if p == "" {
		return RootBasePath
	}
	return p
}

// lookup finds the mapping for host and path. ok is false when the host is not a custom domain
// name or no mapping's base path covers the path; rest is the path below the base path.
func (t *table) lookup(host, path string) (m Mapping, rest string, ok bool) {
	d := t.byName[normalHost(host)]
	if d == nil {
		return Mapping{}, "", false
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range d.mappings {
		if len(r.segments) > len(segs) || !slices.Equal(r.segments, segs[:len(r.segments)]) {
			continue
		}
		return r.mapping, "/" + strings.Join(segs[len(r.segments):], "/"), true
	}
	return Mapping{}, "", false
}

// domains returns the table as the Domain values it was built from (names normalised).
func (t *table) domains() []Domain {
	out := make([]Domain, 0, len(t.order))
	for _, n := range t.order {
		d := Domain{Name: n}
		for _, r := range t.byName[n].mappings {
			d.Mappings = append(d.Mappings, r.mapping)
		}
		out = append(out, d)
	}
	return out
}

// normalHost is the Host header as a domain name: no port, lower case, no trailing dot.
func normalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
