// Package catalog holds the behaviour catalogue of ../shared/SPEC.md as data: every SPEC ID with
// its profile, feature and title. Specs are named after these IDs, targets claim them, and reports
// list each one, so a behaviour nobody tests shows up as a gap instead of disappearing.
package catalog

import (
	"fmt"
	"regexp"
	"slices"
)

// ID is a SPEC behaviour ID such as "K-MTLS-1".
type ID string

// Profile is the kind of gateway a behaviour belongs to; a target implements one profile.
type Profile string

// The profiles of SPEC §1–3.
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
	// KongConf is a target's ability to start with kong.conf settings (client_ssl, ssl_cert, …).
	KongConf Feature = "kong-conf"
	// READMEReplay is the ability to replay the README's curl commands against the target.
	READMEReplay Feature = "readme-replay"
)

// Behaviour is one row of the catalogue.
type Behaviour struct {
	ID      ID
	Profile Profile
	Feature Feature
	Title   string
}

var idPattern = regexp.MustCompile(`^[A-Z]+-[A-Z0-9]+-[0-9]+$|^L-[0-9]+$`)

// behaviours is the catalogue in SPEC order. It is a function, not a package variable, so no
// caller can change what another sees.
func behaviours() []Behaviour {
	return []Behaviour{
		{"K-ADM-1", Kong, AdminAPI, "ca_certificates CRUD with cert_digest"},
		{"K-ADM-2", Kong, AdminAPI, "Kong error shapes; a rejected call changes nothing"},
		{"K-ADM-3", Kong, AdminAPI, "certificates, snis, services, routes, consumers, plugins, credentials, acls"},
		{"K-ADM-4", Kong, Declarative, "DB-less declarative config and POST /config"},
		{"K-MTLS-1", Kong, MTLSAuth, "no client certificate → 401"},
		{"K-MTLS-2", Kong, MTLSAuth, "untrusted, expired, self-signed or revoked certificate → 401"},
		{"K-MTLS-3", Kong, MTLSAuth, "trusted certificate without a consumer → 401"},
		{"K-MTLS-4", Kong, MTLSAuth, "consumer lookup order"},
		{"K-MTLS-5", Kong, MTLSAuth, "consumer headers, skip_consumer_lookup, anonymous"},
		{"K-MTLS-6", Kong, MTLSAuth, "client-sent identity headers never reach the upstream"},
		{"K-MTLS-7", Kong, ACL, "authenticated groups and the acl plugin"},
		{"K-MTLS-8", Kong, Revocation, "revocation checks by CRL distribution point"},
		{"K-MTLS-9", Kong, MTLSAuth, "allow_partial_chain and send_ca_dn"},
		{"K-PROXY-1", Kong, Proxy, "Kong proxy headers, routing and the no-route 404"},
		{"K-UP-1", Kong, UpstreamTLS, "global client certificate to upstreams"},
		{"K-UP-2", Kong, UpstreamTLS, "service > upstream > global client certificate precedence"},
		{"K-UP-3", Kong, UpstreamTLS, "no client certificate: the upstream's error passes through"},
		{"K-UP-4", Kong, UpstreamTLS, "certificate changes apply to the very next request"},
		{"K-UP-5", Kong, UpstreamTLS, "upstream verification: tls_verify, depth, CA certificates"},
		{"K-UP-6", Kong, Proxy, "unreachable upstream → 502/503, never a hang"},
		{"K-SNI-1", Kong, SNI, "default certificate from ssl_cert or generated"},
		{"K-SNI-2", Kong, SNI, "certificate chosen by SNI with wildcard priority"},
		{"K-TLS-1", Kong, TLSPolicy, "ssl_cipher_suite modern, intermediate, old, custom"},

		{"A-TS-1", ALB, TrustStore, "CA bundle rules and messages"},
		{"A-TS-2", ALB, Revocation, "revocation lists replaced while serving"},
		{"A-MODE-1", ALB, MTLSModes, "off: no client certificate requested"},
		{"A-MODE-2", ALB, MTLSModes, "passthrough: chain forwarded unverified"},
		{"A-MODE-3", ALB, MTLSModes, "verify: failures are handshake failures"},
		{"A-HDR-1", ALB, MTLSHeaders, "X-Amzn-Mtls-Clientcert-* headers to targets"},
		{"A-HDR-2", ALB, MTLSHeaders, "client-sent X-Amzn-Mtls-* headers removed"},
		{"A-POL-1", ALB, TLSPolicy, "ELB security policies by name"},
		{"A-CERT-1", ALB, MTLSModes, "client certificate key and signature requirements"},
		{"A-LOG-1", ALB, ConnectionLog, "connection log with verify status codes"},
		{"A-TG-1", ALB, TargetGroups, "target groups and health checks"},
		{"A-APIGW-1", ALB, APIGateway, "private API Gateway stand-in"},

		{"L-1", Load, Traffic, "identity populations classified expected or violation"},
		{"L-2", Load, Traffic, "connection modes and rates, bounded"},
		{"L-3", Load, Traffic, "revocation under load within a bound"},
		{"L-4", Load, Traffic, "load reports and gates"},
	}
}

// All returns the catalogue in SPEC order.
func All() []Behaviour { return behaviours() }

// ByProfile returns the behaviours of one profile in SPEC order.
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
	i := slices.IndexFunc(behaviours(), func(b Behaviour) bool { return b.ID == id })
	if i < 0 {
		return Behaviour{}, false
	}
	return behaviours()[i], true
}

// MustLookup is Lookup for IDs written in code: an unknown ID is a typo, caught the first time
// the spec tree is built.
func MustLookup(id ID) Behaviour {
	b, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("catalog: %q is not a SPEC ID", id))
	}
	return b
}

// Valid reports whether s has the shape of a SPEC ID, so reports can find IDs in spec names.
func Valid(s string) bool { return idPattern.MatchString(s) }
