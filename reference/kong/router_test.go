package kong

import "testing"

// TestUpstreamURIv0 replays the docs table and the rows computed from Kong's v0 code.
func TestUpstreamURIv0(t *testing.T) {
	cases := []struct {
		base, routePath string
		strip           bool
		req, want       string
	}{
		{"/s", "/fv0", false, "/fv0req", "/s/fv0req"},
		{"/s", "/tv0", true, "/tv0req", "/s/req"},
		{"/s", "/fv0/", false, "/fv0/req", "/s/fv0/req"},
		{"/s", "/tv0/", true, "/tv0/req", "/s/req"},
		{"/", "/foo", true, "/foo", "/"},
		{"/", "/foo", true, "/foo/", "/"},
		{"/", "/foo", true, "/foo/bar", "/bar"},
		{"/", "/foo", true, "/foobar", "/bar"},
		{"/", "/foo", false, "/foo/bar", "/foo/bar"},
		{"/", "/", true, "/x", "/x"},
		{"/s", "/foo", true, "/foo", "/s"},
		{"/s", "/foo", true, "/foo/", "/s/"},
		{"/s", "/foo", true, "/foo/bar", "/s/bar"},
		{"/s", "/foo", false, "/foo/bar", "/s/foo/bar"},
		{"/s/", "/foo", true, "/foo", "/s"},
		{"/s/", "/foo", true, "/foo/", "/s/"},
		{"/s/", "/foo", true, "/foo/bar", "/s/bar"},
		{"/s/", "/foo", false, "/foo/bar", "/s/foo/bar"},
		{"/s", "/", true, "/", "/s"},
		{"/s", "/", false, "/", "/s"},
		{"/s/", "/", false, "/", "/s/"},
		{"/anything", "/mtls", true, "/mtls", "/anything"},
		{"/anything", "/mtls", true, "/mtls/x", "/anything/x"},
	}
	for _, c := range cases {
		if got := upstreamURIv0(c.strip, c.routePath, c.req, c.base); got != c.want {
			t.Errorf("service %q route %q strip %v request %q → %q, want %q", c.base, c.routePath, c.strip, c.req, got, c.want)
		}
	}
}

func TestRouterPriority(t *testing.T) {
	svc := &service{}
	short := &route{id: "a", name: "short", stripPath: true, service: svc, createdAt: 1}
	long := &route{id: "b", name: "long", stripPath: true, service: svc, createdAt: 2}
	hosted := &route{id: "c", name: "hosted", service: svc, createdAt: 3, hosts: []hostMatcher{newHostMatcher("api.example.test")}}
	wild := &route{id: "d", name: "wild", service: svc, createdAt: 4, hosts: []hostMatcher{newHostMatcher("*.example.test")}}
	regex := &route{id: "e", name: "regex", service: svc, createdAt: 5}
	rt := newRouter([]*route{short, long, hosted, wild, regex}, map[*route][]string{
		short: {"/a"}, long: {"/a/b"}, hosted: {"/"}, wild: {"/"}, regex: {`~/r/\d+$`},
	})
	none := func(string) []string { return nil }
	cases := []struct {
		host, path, want string
	}{
		{"x.test", "/a/b/c", "long"},
		{"x.test", "/a/c", "short"},
		{"x.test", "/abc", "short"},
		{"api.example.test", "/a/b", "hosted"},
		{"other.example.test", "/a/b", "wild"},
		{"x.test", "/r/12", "regex"},
		{"x.test", "/r/x", ""},
	}
	for _, c := range cases {
		m := rt.find(request{scheme: "http", method: "GET", host: c.host, path: c.path, headers: none})
		got := ""
		if m != nil {
			got = m.route.name
		}
		if got != c.want {
			t.Errorf("%s%s → %q, want %q", c.host, c.path, got, c.want)
		}
	}
}
