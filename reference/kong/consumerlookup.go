package kong

import "github.com/mtlsgate/mtlsgate/reference/kong/admin"

// The consumer fields mtls-auth's consumer_by may name, in the order of its default.
const (
	ConsumerByUsername = "username"
	ConsumerByCustomID = "custom_id"
)

// ConsumerIndex is what mtls-auth's consumer lookup searches, by consumer id: the one home of
// that lookup, which the proxy runs per request and the nginx renderer precomputes or hands to
// its njs script.
type ConsumerIndex struct {
	// IDs holds every consumer's id.
	IDs map[string]bool
	// Credentials maps an mtls-auth credential's subject_name to the id of the CA it is bound to
	// ("" for none) to its consumer.
	Credentials map[string]map[string]string
	// ByUsername and ByCustomID map a consumer's username and custom_id to it.
	ByUsername, ByCustomID map[string]string
}

// IndexConsumers indexes a snapshot's consumers and their mtls-auth credentials; a credential of
// a consumer that does not exist is left out.
func IndexConsumers(snap *admin.Snapshot) ConsumerIndex {
	ix := ConsumerIndex{IDs: map[string]bool{}, Credentials: map[string]map[string]string{},
		ByUsername: map[string]string{}, ByCustomID: map[string]string{}}
	for _, e := range snap.List("consumers") {
		id := admin.String(e["id"])
		ix.IDs[id] = true
		if u := admin.String(e["username"]); u != "" {
			ix.ByUsername[u] = id
		}
		if c := admin.String(e["custom_id"]); c != "" {
			ix.ByCustomID[c] = id
		}
	}
	for _, e := range snap.List("mtls_auth_credentials") {
		id := admin.RefID(e["consumer"])
		if !ix.IDs[id] {
			continue
		}
		name := admin.String(e["subject_name"])
		if ix.Credentials[name] == nil {
			ix.Credentials[name] = map[string]string{}
		}
		ix.Credentials[name][admin.RefID(e["ca_certificate"])] = id
	}
	return ix
}

// Lookup is mtls-auth's consumer lookup (SPEC K-MTLS-4) for a certificate with these names (its
// SANs, then its subject CN) that chains to the CA caID ("" when none of the plugin's CAs is its
// anchor): for each name in order a credential bound to that CA, then one bound to no CA; only
// when no name has a credential, for each name the consumer_by fields in their order. ok is
// false when nothing matches, and default_consumer (the caller's) applies.
func (ix ConsumerIndex) Lookup(names []string, caID string, consumerBy []string) (id string, ok bool) {
	for _, n := range names {
		if byCA := ix.Credentials[n]; byCA != nil {
			if id, ok := byCA[caID]; ok && caID != "" {
				return id, true
			}
			if id, ok := byCA[""]; ok {
				return id, true
			}
		}
	}
	for _, n := range names {
		for _, by := range consumerBy {
			var id string
			switch by {
			case ConsumerByUsername:
				id = ix.ByUsername[n]
			case ConsumerByCustomID:
				id = ix.ByCustomID[n]
			}
			if id != "" {
				return id, true
			}
		}
	}
	return "", false
}

// Resolve finds the consumer anonymous or default_consumer names: by id, else by username.
func (ix ConsumerIndex) Resolve(ref string) (id string, ok bool) {
	if ix.IDs[ref] {
		return ref, true
	}
	id, ok = ix.ByUsername[ref]
	return id, ok
}
