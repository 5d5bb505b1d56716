// Package catalog holds the behaviour catalogue, CATALOG.md, as data: every ID with its profile,
// feature, title and public source. Specs are named after these IDs, targets claim them, and reports
// list each one, so a behaviour nobody tests shows up as a gap instead of disappearing.
package catalog

import (
	_ "embed" // CATALOG.md is embedded.
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ID is a catalogue behaviour ID such as "K-MTLS-1".
type ID string

// Profile is the kind of gateway a behaviour belongs to; a target implements one profile.
type Profile string

// The profiles of CATALOG.md §1–3.
const (
	Kong Profile = "kong"
	ALB  Profile = "alb"
	Load Profile = "load"
)

// Feature groups behaviours a target either supports or does not (an nginx target has no Admin
// API, say), so a target can opt out of a whole group at once.
type Feature string

// The features of the catalogue.
const (
	AdminAPI      Feature = "admin-api"
	Declarative   Feature = "declarative-config"
	MTLSAuth      Feature = "mtls-auth"
	ACL           Feature = "acl"
	Revocation    Feature = "revocation"
	Proxy         Feature = "proxy"
	UpstreamTLS   Feature = "upstream-tls"
	SNI           Feature = "sni-certificates"
	TLSPolicy     Feature = "tls-policy"
	TrustStore    Feature = "trust-store"
	MTLSModes     Feature = "mtls-modes"
	MTLSHeaders   Feature = "mtls-headers"
	ConnectionLog Feature = "connection-log"
	TargetGroups  Feature = "target-groups"
	APIGateway    Feature = "api-gateway"
	Traffic       Feature = "traffic"
	// HTTP2 is serving HTTP/2 (negotiated by ALPN) on TLS listeners.
	HTTP2 Feature = "http2"
	// KongConf is a target's ability to start with kong.conf settings (client_ssl, ssl_cert, …).
	KongConf Feature = "kong-conf"
	// READMEReplay is the ability to replay the README's curl commands against the target.
	READMEReplay Feature = "readme-replay"
	// ELBv2API is configuration through AWS's own API (ELBv2, with the S3 and ACM calls it needs).
	ELBv2API Feature = "elbv2-api"
	// ALBConfig is a target's ability to take the ALB suite's scenarios (harness.ALBTarget); an
	// ALB someone else runs is certified by the black-box specs alone.
	ALBConfig Feature = "alb-config"
)

// Behaviour is one row of the catalogue.
type Behaviour struct {
	ID      ID
	Profile Profile
	Feature Feature
	Title   string
	// Text is the behaviour as CATALOG.md states it, exact strings in backquotes.
	Text string
	// Source names the public document or test file the behaviour comes from, or says it is an
	// mtlsgate rule, so anyone can check a row against the real system.
	Source string
}

var idPattern = regexp.MustCompile(`^[A-Z]+-[A-Z0-9]+-[0-9]+$|^L-[0-9]+$`)

// catalogueMD is CATALOG.md, embedded so compiled suites carry the catalogue with them.
//
//go:embed CATALOG.md
var catalogueMD string

// rowIDPattern is the first cell of a behaviour row.
var rowIDPattern = regexp.MustCompile(`^(?:[KA]-[A-Z0-9]+|L)-[0-9]+$`)

// rowCells returns the five cells of a behaviour row, a whole line of the form
// | ID | feature | title | behaviour | source | (no cell holds a "|", each has a space on either
// side), or false. Parse runs it on every line: a multi-line regular expression over the whole
// document cost milliseconds per parse, and every Lookup parses.
func rowCells(line string) ([]string, bool) {
	parts := strings.Split(line, "|")
	if len(parts) != 7 || parts[0] != "" || parts[6] != "" {
		return nil, false
	}
	cells := parts[1:6]
	for i, c := range cells {
		if len(c) < 3 || c[0] != ' ' || c[len(c)-1] != ' ' {
			return nil, false
		}
		cells[i] = c[1 : len(c)-1]
	}
	return cells, rowIDPattern.MatchString(cells[0])
}

// features lists every feature a row may name; Parse refuses any other, so a typo in the
// catalogue cannot create a feature no target knows.
func features() []Feature {
	return []Feature{AdminAPI, Declarative, MTLSAuth, ACL, Revocation, Proxy, UpstreamTLS, SNI,
		TLSPolicy, TrustStore, MTLSModes, MTLSHeaders, ConnectionLog, TargetGroups, APIGateway,
		Traffic, HTTP2, KongConf, READMEReplay, ELBv2API, ALBConfig}
}

// Features lists every feature of the catalogue, so a label naming one can be checked.
func Features() []Feature { return features() }

// profileOf derives an ID's profile from its prefix: K- is Kong, A- is ALB, L- is Load.
func profileOf(id ID) (Profile, error) {
	switch {
	case strings.HasPrefix(string(id), "K-"):
		return Kong, nil
	case strings.HasPrefix(string(id), "A-"):
		return ALB, nil
	case strings.HasPrefix(string(id), "L-"):
		return Load, nil
	}
	return "", fmt.Errorf("%s: the prefix names no profile (use K-, A- or L-)", id)
}

// Parse reads a catalogue in CATALOG.md's form: every table row whose first cell is an ID. It
// refuses a row with an unknown feature, an ID listed twice, or a row with a cell missing.
func Parse(md string) ([]Behaviour, error) {
	var out []Behaviour
	seen := map[ID]bool{}
	for line := range strings.Lines(md) {
		m, ok := rowCells(strings.TrimSuffix(line, "\n"))
		if !ok {
			continue
		}
		b := Behaviour{ID: ID(m[0]), Feature: Feature(strings.TrimSpace(m[1])),
			Title: strings.TrimSpace(m[2]), Text: strings.TrimSpace(m[3]), Source: strings.TrimSpace(m[4])}
		if seen[b.ID] {
			return nil, fmt.Errorf("catalogue: %s is listed twice; give the second row a new ID", b.ID)
		}
		seen[b.ID] = true
		if !slices.Contains(features(), b.Feature) {
			return nil, fmt.Errorf("catalogue: %s names feature %q, which the catalog package does not declare", b.ID, b.Feature)
		}
		p, err := profileOf(b.ID)
		if err != nil {
			return nil, fmt.Errorf("catalogue: %w", err)
		}
		b.Profile = p
		if b.Title == "" || b.Text == "" || b.Source == "" {
			return nil, fmt.Errorf("catalogue: %s needs a title, a behaviour and a source", b.ID)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("catalogue: no behaviour rows found (| ID | feature | title | behaviour | source |)")
	}
	return out, nil
}

// behaviours is the embedded catalogue in its own order. A malformed CATALOG.md is a build
// defect that the package's test catches, so it panics rather than returning a partial list.
func behaviours() []Behaviour {
	bs, err := Parse(catalogueMD)
	if err != nil {
		panic(err)
	}
	return bs
}

// All returns the catalogue in CATALOG.md order.
func All() []Behaviour { return behaviours() }

// ByProfile returns the behaviours of one profile in CATALOG.md order.
func ByProfile(p Profile) []Behaviour {
	var out []Behaviour
	for _, b := range behaviours() {
		if b.Profile == p {
			out = append(out, b)
		}
	}
	return out
}

// Lookup returns the behaviour with the given ID.
func Lookup(id ID) (Behaviour, bool) {
	all := behaviours()
	i := slices.IndexFunc(all, func(b Behaviour) bool { return b.ID == id })
	if i < 0 {
		return Behaviour{}, false
	}
	return all[i], true
}

// MustLookup is Lookup for IDs written in code: an unknown ID is a typo, caught the first time
// the spec tree is built.
func MustLookup(id ID) Behaviour {
	b, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("catalog: %q is not a catalogue ID", id))
	}
	return b
}

// Valid reports whether s has the shape of a catalogue ID, so reports can find IDs in spec names.
func Valid(s string) bool { return idPattern.MatchString(s) }
