// Package ciphername owns the mapping between crypto/tls's cipher suite IDs and OpenSSL's names,
// the names kong.conf's ssl_ciphers, ELB's security policies and ALB's connection log use.
package ciphername

import (
	"crypto/tls"
	"strings"
)

// suites lists every suite crypto/tls implements under its OpenSSL name; OpenSSL names Go does
// not implement (DHE, CBC-SHA384, …) are absent.
func suites() map[string]uint16 {
	return map[string]uint16{
		"TLS_AES_128_GCM_SHA256":        tls.TLS_AES_128_GCM_SHA256,
		"TLS_AES_256_GCM_SHA384":        tls.TLS_AES_256_GCM_SHA384,
		"TLS_CHACHA20_POLY1305_SHA256":  tls.TLS_CHACHA20_POLY1305_SHA256,
		"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
		"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
		"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
		"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	}
}

// ID is the crypto/tls ID of the suite OpenSSL calls name; false when Go does not implement it.
func ID(name string) (uint16, bool) {
	id, ok := suites()[name]
	return id, ok
}

// Name is OpenSSL's name of a crypto/tls suite; false for a suite it does not list.
func Name(id uint16) (string, bool) {
	for n, i := range suites() {
		if i == id {
			return n, true
		}
	}
	return "", false
}

// List reads an OpenSSL cipher list ("A:B:C", what ssl_ciphers and HAProxy's ciphers take) as
// OpenSSL does: TLS 1.0–1.2 suites only (TLS 1.3's go in a separate ciphersuites list), names Go
// does not implement skipped.
func List(list string) []uint16 {
	var out []uint16
	for _, name := range strings.Split(list, ":") {
		name = strings.TrimSpace(name)
		if strings.HasPrefix(name, "TLS_") {
			continue
		}
		if id, ok := ID(name); ok {
			out = append(out, id)
		}
	}
	return out
}
