// Package version holds mtlsgate's version, which the reference gateways announce (Via, Server)
// in the places Kong announces its own.
package version

// Version is mtlsgate's release version.
const Version = "0.1.0"

// Server is the product token for Server and Via headers, as Kong's "kong/3.x.y".
const Server = "mtlsgate/" + Version
