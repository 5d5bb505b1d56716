package kong

import "github.com/mtlsgate/mtlsgate/reference/kong/admin"

// Kong's messages, the {"message": …} of the answers the gateway itself makes, exported so every
// renderer answers with Kong's words (SPEC K-MTLS-1, -2, -3, -7, K-PROXY-1, K-UP-5, K-UP-6).
const (
	// MsgNoCertificate is mtls-auth's 401 when the client sent no certificate.
	MsgNoCertificate = "No required TLS certificate was sent"
	// MsgFailedVerify is mtls-auth's 401 when the certificate does not verify against its CAs.
	MsgFailedVerify = "TLS certificate failed verification"
	// MsgMissingCN is mtls-auth's 401 when consumer lookup needs a CN the certificate lacks.
	MsgMissingCN = "Certificate missing Common Name"
	// MsgUnexpectedError is Kong's 500 (mtls-auth naming an anonymous consumer that does not exist).
	MsgUnexpectedError = admin.MsgUnexpectedError
	// MsgUnauthorized is acl's 401 when no consumer and no authenticated groups were established.
	MsgUnauthorized = "Unauthorized"
	// MsgCannotConsume is acl's 403.
	MsgCannotConsume = "You cannot consume this service"
	// MsgNoRoute is the router's 404.
	MsgNoRoute = "no Route matched with those values"
	// MsgNoService is the 503 of a route without a service.
	MsgNoService = "no Service found with those values"
	// MsgUseHTTPS is the 426 of an https-only route asked over http.
	MsgUseHTTPS = "Please use HTTPS protocol"
	// MsgBadUpstream is the 502 of an upstream that answered with something not HTTP.
	MsgBadUpstream = "An invalid response was received from the upstream server"
	// MsgUnavailable is the 502 of an upstream that cannot be reached.
	MsgUnavailable = "The upstream server is currently unavailable"
	// MsgTimeout is the 504 of an upstream that timed out.
	MsgTimeout = "The upstream server is timing out"
	// MsgNoPeer is the 503 of an upstreams entity with no healthy target.
	MsgNoPeer = "failure to get a peer from the ring-balancer"
)
