package kong

import "net/http"

// The headers Kong's mtls-auth and acl plugins set upstream, as Kong spells them.
const (
	// HeaderConsumerID is the authenticated consumer's id.
	HeaderConsumerID = "X-Consumer-ID"
	// HeaderConsumerUsername is the consumer's username, when it has one.
	HeaderConsumerUsername = "X-Consumer-Username"
	// HeaderConsumerCustomID is the consumer's custom_id, when it has one.
	HeaderConsumerCustomID = "X-Consumer-Custom-ID"
	// HeaderConsumerGroups is acl's list of the consumer's groups.
	HeaderConsumerGroups = "X-Consumer-Groups"
	// HeaderAnonymousConsumer is "true" when the request proceeds as the anonymous consumer.
	HeaderAnonymousConsumer = "X-Anonymous-Consumer"
	// HeaderCredentialIdentifier is the credential's identifier, set by authentication plugins.
	HeaderCredentialIdentifier = "X-Credential-Identifier"
	// HeaderAuthenticatedGroups is acl's list of the groups an authentication plugin established.
	HeaderAuthenticatedGroups = "X-Authenticated-Groups"
	// HeaderClientCertDN is mtls-auth's certificate subject DN with skip_consumer_lookup.
	HeaderClientCertDN = "X-Client-Cert-DN"
	// HeaderClientCertSAN is mtls-auth's certificate SANs with skip_consumer_lookup.
	HeaderClientCertSAN = "X-Client-Cert-SAN"
)

// IdentityHeaders returns the headers only the gateway may set (SPEC K-MTLS-6): a client's own
// copies are removed before anything else runs, and every renderer clears them too.
func IdentityHeaders() []string {
	return []string{
		HeaderConsumerID, HeaderConsumerUsername, HeaderConsumerCustomID, HeaderConsumerGroups,
		HeaderAnonymousConsumer, HeaderCredentialIdentifier, HeaderAuthenticatedGroups,
		HeaderClientCertDN, HeaderClientCertSAN,
	}
}

// canonicalHeaders returns names in Go's canonical form, the keys of an http.Header.
func canonicalHeaders(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = http.CanonicalHeaderKey(n)
	}
	return out
}
