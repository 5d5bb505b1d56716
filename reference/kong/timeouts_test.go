package kong

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/kong/kongconf"
)

func TestNginxTimeAndSize(t *testing.T) {
	for in, want := range map[string]time.Duration{"60": time.Minute, "60s": time.Minute, "500ms": 500 * time.Millisecond, "1m30s": 90 * time.Second, "2h": 2 * time.Hour} {
		if got, err := parseNginxTime(in); err != nil || got != want {
			t.Errorf("parseNginxTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "1x", "-1s", "1.5s", "9999999999s", "1000d"} {
		if got, err := parseNginxTime(bad); err == nil {
			t.Errorf("parseNginxTime(%q) = %v; want an error", bad, got)
		}
	}
	for in, want := range map[string]int64{"4k": 4096, "160K": 160 << 10, "1m": 1 << 20, "512": 512} {
		if got, err := parseNginxSize(in); err != nil || got != want {
			t.Errorf("parseNginxSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-1k", "1g", "99999999m"} {
		if got, err := parseNginxSize(bad); err == nil {
			t.Errorf("parseNginxSize(%q) = %v; want an error", bad, got)
		}
	}
}

func TestInvalidHeaderNamesAreDropped(t *testing.T) {
	h := http.Header{"X_consumer_id": {"spoof"}, "X-consumer_username": {"spoof"}, "X.consumer.id": {"spoof"},
		"X-Consumer-Id": {"kept"}, "Accept": {"*/*"}, "X_Request_Source": {"kept"}}
	dropInvalidHeaders(h)
	if len(h) != 3 || h.Get("X-Consumer-Id") != "kept" || h.Get("Accept") != "*/*" || len(h["X_Request_Source"]) != 1 {
		t.Errorf("after dropInvalidHeaders: %v", h)
	}
}

func TestBadNginxDirectivesStopTheGateway(t *testing.T) {
	for _, line := range []string{"nginx_http_client_body_timeout = 0", "nginx_proxy_client_body_timeout = soon", "nginx_proxy_proxy_buffer_size = 1g",
		"nginx_http_client_header_timeout = 0", "nginx_admin_client_header_timeout = 1.5s", "nginx_proxy_keepalive_timeout = 0", "nginx_http_keepalive_timeout = 75s 60s",
		"nginx_http_send_timeout = 0", "nginx_proxy_send_timeout = later"} {
		conf, err := kongconf.Parse(strings.NewReader(line+"\n"), "kong.conf", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(Options{Config: conf}); err == nil || !strings.Contains(err.Error(), strings.Fields(line)[0]) {
			t.Errorf("%s: error = %v; want one naming the key", line, err)
		}
	}
}

func TestClientTimeoutsPerServerBlock(t *testing.T) {
	conf, err := kongconf.Parse(strings.NewReader("nginx_http_client_header_timeout = 5\nnginx_proxy_client_header_timeout = 1500ms\nnginx_admin_keepalive_timeout = 1m\nnginx_http_send_timeout = 2s\nnginx_proxy_send_timeout = 1s\n"), "kong.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]clientTimeouts{
		"proxy":  {header: 1500 * time.Millisecond, keepalive: 75 * time.Second, send: time.Second},
		"admin":  {header: 5 * time.Second, keepalive: time.Minute, send: 2 * time.Second},
		"status": {header: 5 * time.Second, keepalive: 75 * time.Second, send: 2 * time.Second},
	} {
		if got, err := clientTimeoutsFor(conf, role); err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", role, got, err, want)
		}
	}
	def, _ := kongconf.Parse(strings.NewReader(""), "kong.conf", nil)
	if got, _ := clientTimeoutsFor(def, "proxy"); got != (clientTimeouts{header: 60 * time.Second, keepalive: 75 * time.Second, send: 60 * time.Second}) {
		t.Errorf("defaults: %+v; want nginx's 60s, 75s and 60s", got)
	}
}
