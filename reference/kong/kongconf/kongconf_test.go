package kongconf

import (
	"fmt"
	"strings"
	"testing"
)

func TestDefaultsAreKongs(t *testing.T) {
	c, err := Parse(strings.NewReader(""), "kong.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ProxyListen) != 2 || c.ProxyListen[0].Address != "0.0.0.0:8000" || c.ProxyListen[0].SSL ||
		c.ProxyListen[1].Address != "0.0.0.0:8443" || !c.ProxyListen[1].SSL || !c.ProxyListen[1].HTTP2 {
		t.Errorf("proxy_listen = %+v", c.ProxyListen)
	}
	if c.AdminListen[0].Address != "127.0.0.1:8001" || c.AdminListen[0].SSL {
		t.Errorf("admin_listen = %+v", c.AdminListen)
	}
	if c.SSLCipherSuite != "intermediate" || !c.Enabled("Via") || !c.Enabled("X-Kong-Request-Id") || c.ClientSSL {
		t.Errorf("defaults: %+v", c)
	}
}

func TestFileSyntaxAndEnvPrecedence(t *testing.T) {
	conf := `
# a comment
; another comment
proxy_listen = 127.0.0.1:9000, 127.0.0.1:9443 ssl   # trailing comment
admin_listen = 127.0.0.1:9001
pg_password = test\#123
headers = off
nginx_proxy_proxy_ssl_verify = on
`
	c, err := Parse(strings.NewReader(conf), "kong.conf", []string{"KONG_ADMIN_LISTEN=127.0.0.1:9101", "KONG_NOT_A_KEY=1", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ProxyListen) != 2 || c.ProxyListen[1].Address != "127.0.0.1:9443" || !c.ProxyListen[1].SSL {
		t.Errorf("proxy_listen = %+v", c.ProxyListen)
	}
	if c.AdminListen[0].Address != "127.0.0.1:9101" {
		t.Errorf("env did not override admin_listen: %+v", c.AdminListen)
	}
	if c.Values["pg_password"] != "test#123" || len(c.Headers) != 0 || !c.ProxySSLVerify {
		t.Errorf("values %q headers %v verify %v", c.Values["pg_password"], c.Headers, c.ProxySSLVerify)
	}
}

func TestErrorsNameTheProperty(t *testing.T) {
	cases := map[string]string{
		"proxy_lsiten = 0.0.0.0:8000\n":                      `unknown property "proxy_lsiten"; did you mean "proxy_listen"?`,
		"proxy_listen = 0.0.0.0\n":                           "proxy_listen must be of form: [off] | <ip>:<port> [ssl]",
		"admin_listen = 127.0.0.1:8001 sslx\n":               "admin_listen must be of form",
		"proxy_listen = 0.0.0.0:99999\n":                     "proxy_listen: port 99999",
		"client_ssl = on\nclient_ssl_cert = /nonexist\n":     "client_ssl_cert_key must be specified",
		"client_ssl = on\nclient_ssl_cert_key = /x\n":        "client_ssl_cert must be specified",
		"ssl_cert = /a.crt\n":                                "ssl_cert_key must be specified",
		"ssl_cert = /a.crt, /b.crt\nssl_cert_key = /a.key\n": "ssl_cert was specified 2 times while ssl_cert_key was specified 1 times",
		"ssl_cipher_suite = strong\n":                        "Undefined cipher suite strong",
		"client_ssl = yes\n":                                 "client_ssl is not a boolean: 'yes'",
		"headers = Foo-Bar\n":                                "headers: invalid entry 'Foo-Bar'",
		"just a line\n":                                      "is not of the form key = value",
	}
	for conf, want := range cases {
		_, err := Parse(strings.NewReader(conf), "kong.conf", nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", conf, err, want)
		}
	}
}

func TestOffDisablesListeners(t *testing.T) {
	c, err := Parse(strings.NewReader("admin_listen = off\nstatus_listen = off\n"), "kong.conf", nil)
	if err != nil || len(c.AdminListen) != 0 || len(c.StatusListen) != 0 {
		t.Fatalf("admin %+v status %+v err %v", c.AdminListen, c.StatusListen, err)
	}
}

// TestK_ADM_6_UnknownKeySuggestionIsBounded: K-ADM-6, a huge unknown key gets a short error
// and no "did you mean" (its edit distance to every Kong key is never computed).
func TestK_ADM_6_UnknownKeySuggestionIsBounded(t *testing.T) {
	key := strings.Repeat("proxy_listen", 3<<20/len("proxy_listen"))
	_, err := Parse(strings.NewReader(key+" = on\n"), "kong.conf", nil)
	if err == nil || len(err.Error()) > 400 || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("a 3 MB unknown key: error of %d bytes: %.200v", len(fmt.Sprint(err)), err)
	}
	if got := closest("proxy_lsiten"); got != "proxy_listen" {
		t.Errorf("closest(proxy_lsiten) = %q", got)
	}
}
