package admin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// pluginSchema is the configuration schema of one plugin the reference implements.
type pluginSchema struct {
	name      string
	config    []*field
	protocols []string
	// noConsumer forbids consumer scoping (authentication plugins run before a consumer exists).
	noConsumer bool
	check      func(config map[string]any, errs fieldErrors)
	// caRefs names config fields that hold ca_certificates ids, so deleting a CA they use fails.
	caRefs []string
}

// Plugins returns the schemas of the plugins the reference gateway implements.
func defaultPlugins() map[string]*pluginSchema {
	mtls := &pluginSchema{
		name: "mtls-auth",
		config: []*field{
			strArray("ca_certificates").isRequired().elemUUID(),
			strArray("consumer_by").withDefault([]any{"username", "custom_id"}).elemOneOf("username", "custom_id"),
			boolean("skip_consumer_lookup").withDefault(false),
			str("authenticated_group_by").withDefault("CN").one("CN", "DN"),
			str("anonymous"),
			str("default_consumer"),
			str("revocation_check_mode").withDefault("IGNORE_CA_ERROR").one("SKIP", "IGNORE_CA_ERROR", "STRICT"),
			boolean("allow_partial_chain").withDefault(false),
			boolean("send_ca_dn").withDefault(false),
			// Kong Enterprise does not publish these bounds; mtlsgate's (SPEC K-ADM-6): TTLs up to
			// Kong's DAO_MAX_TTL, http_timeout as a service's nonzero timeout, so no value can
			// switch revocation off or overflow a duration.
			number("cache_ttl").withDefault(float64(60)).in(0, maxTTL),
			number("cert_cache_ttl").withDefault(float64(60000)).in(0, maxTTL),
			number("http_timeout").withDefault(float64(30000)).in(1, math32),
			str("http_proxy_host"),
			integer("http_proxy_port").in(0, 65535),
			str("https_proxy_host"),
			integer("https_proxy_port").in(0, 65535),
			boolean("ssl_verify").withDefault(true), // Kong 3.14: "now enabled by default" (mtls-auth changelog)
		},
		protocols:  []string{"grpc", "grpcs", "http", "https"},
		noConsumer: true,
		caRefs:     []string{"ca_certificates"},
		check: func(c map[string]any, errs fieldErrors) {
			for _, pair := range [][2]string{{"http_proxy_host", "http_proxy_port"}, {"https_proxy_host", "https_proxy_port"}} {
				if (c[pair[0]] == nil) != (c[pair[1]] == nil) {
					errs.entity(fmt.Sprintf("all or none of these fields must be set: '%s', '%s'", "config."+pair[0], "config."+pair[1]))
				}
			}
		},
	}
	acl := &pluginSchema{
		name: "acl",
		config: []*field{
			strArray("allow"),
			strArray("deny"),
			boolean("hide_groups_header").withDefault(false),
			boolean("include_consumer_groups").withDefault(false),
			boolean("always_use_authenticated_groups").withDefault(false),
		},
		protocols: []string{"grpc", "grpcs", "http", "https"},
		check: func(c map[string]any, errs fieldErrors) {
			allow, deny := c["allow"] != nil, c["deny"] != nil
			switch {
			case allow && deny:
				errs.entity("only one of these fields must be non-empty: 'config.allow', 'config.deny'")
			case !allow && !deny:
				errs.entity("at least one of these fields must be non-empty: 'config.allow', 'config.deny'")
			}
		},
	}
	return map[string]*pluginSchema{mtls.name: mtls, acl.name: acl}
}

func pluginsSchema(plugins map[string]*pluginSchema) *schema {
	return &schema{
		name: "plugins",
		fields: []*field{
			idField(), createdAt(), updatedAt(),
			str("name").isRequired(),
			str("instance_name").isUnique().validate(checkName),
			record("config"),
			strSet("protocols").elemOneOf(protocolsAll...),
			boolean("enabled").withDefault(true),
			tags(),
			foreign("route", "routes").cascade(),
			foreign("service", "services").cascade(),
			foreign("consumer", "consumers").cascade(),
		},
		uniqueTogether: [][]string{{"name", "route", "service", "consumer"}},
	}
}

// maxTTL is Kong's constants.DATABASE.DAO_MAX_TTL (kong/constants.lua), in seconds.
const maxTTL = 100000000

// forPlugin returns the plugins schema with config bound to the named plugin's fields, or a
// schema violation on name when the plugin is unknown.
func forPlugin(base *schema, plugins map[string]*pluginSchema, name any) (*schema, *pluginSchema, fieldErrors) {
	s, _ := name.(string)
	p, ok := plugins[s]
	if !ok {
		errs := fieldErrors{}
		if name == nil {
			errs.add("name", "required field missing")
		} else {
			errs.add("name", fmt.Sprintf("plugin '%s' not enabled; add it to the 'plugins' configuration property", s))
		}
		return nil, nil, errs
	}
	bound := *base
	bound.fields = make([]*field, len(base.fields))
	for i, f := range base.fields {
		switch f.name {
		case "config":
			bound.fields[i] = record("config", p.config...).isRequired()
		case "protocols":
			c := *f
			protos := make([]any, len(p.protocols))
			for j, pr := range p.protocols {
				protos[j] = pr
			}
			c.def = protos
			bound.fields[i] = &c
		default:
			bound.fields[i] = f
		}
	}
	bound.check = func(e Entity, errs fieldErrors) {
		if p.noConsumer && e["consumer"] != nil {
			errs.add("consumer", "value must be null")
		}
		if cfg, ok := e["config"].(map[string]any); ok && p.check != nil {
			inner := fieldErrors{}
			p.check(cfg, inner)
			if list, ok := inner["@entity"]; ok {
				for _, m := range list.([]any) {
					errs.entity(m.(string))
				}
			}
		}
	}
	return &bound, p, nil
}

// parseKey reads a PEM private key in PKCS #8, PKCS #1 or SEC 1 form.
func parseKey(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not a PEM-encoded private key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if signer, ok := k.(crypto.Signer); ok {
			return signer, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key format")
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}

func keyType(k crypto.Signer) string {
	switch k.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return "unknown"
}
