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

// pluginIndex checks a plugin list and indexes it by name: a plugin without a name or listed
// twice is a programming error the store refuses to start with.
func pluginIndex(list []PluginSchema) (map[string]*PluginSchema, error) {
	out := make(map[string]*PluginSchema, len(list))
	for i := range list {
		p := &list[i]
		if p.Name == "" {
			return nil, fmt.Errorf("plugin schema %d has no name", i)
		}
		if out[p.Name] != nil {
			return nil, fmt.Errorf("plugin %q is registered twice", p.Name)
		}
		out[p.Name] = p
	}
	return out, nil
}

func pluginsSchema(plugins map[string]*PluginSchema) *schema {
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
func forPlugin(base *schema, plugins map[string]*PluginSchema, name any) (*schema, *PluginSchema, fieldErrors) {
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
			config := make([]*field, len(p.Config))
			for j, c := range p.Config {
				config[j] = c.f
			}
			bound.fields[i] = record("config", config...).isRequired()
		case "protocols":
			c := *f
			protos := make([]any, len(p.Protocols))
			for j, pr := range p.Protocols {
				protos[j] = pr
			}
			c.def = protos
			bound.fields[i] = &c
		default:
			bound.fields[i] = f
		}
	}
	bound.check = func(e Entity, errs fieldErrors) {
		if p.NoConsumer && e["consumer"] != nil {
			errs.add("consumer", "value must be null")
		}
		if cfg, ok := e["config"].(map[string]any); ok && p.Check != nil {
			for _, m := range p.Check(cfg) {
				errs.entity(m)
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
