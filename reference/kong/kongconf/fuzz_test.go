package kongconf

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary kong.conf text (and one KONG_ variable) to Parse (issue 13).
// Invariants: no panic; an accepted configuration has its listeners parsed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"proxy_listen = 127.0.0.1:9000, 127.0.0.1:9443 ssl http2\nadmin_listen = off\n",
		"headers = off\nnginx_http_client_body_timeout = 1s\n# comment\n",
		"client_ssl = on\nclient_ssl_cert = /dev/zero\n",
		"ssl_cipher_suite = custom\nssl_protocols = TLSv1.2 TLSv1.3\n",
		"proxy_lsiten = 127.0.0.1:1\n",
		"pg_password = a\\#b ; c\n",
	} {
		f.Add(s, "KONG_STATUS_LISTEN=127.0.0.1:0")
	}
	f.Fuzz(func(t *testing.T, text, env string) {
		if len(text) > 64<<10 {
			return
		}
		c, err := Parse(strings.NewReader(text), "kong.conf", []string{env})
		if err != nil {
			return
		}
		if c.Values == nil {
			t.Fatal("accepted without values")
		}
	})
}
