package admin

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenHeader is the header carrying the Admin API token, named as Kong Enterprise's RBAC names it.
const TokenHeader = "Kong-Admin-Token"

// guard applies mtlsgate's browser rules to an Admin API request (SPEC K-ADM-5) and returns the
// refusal, or 0 when the request may go on:
//   - with a token configured, the request must carry it in Kong-Admin-Token (401 otherwise);
//   - the Host must be an IP address, a loopback name (localhost, *.localhost), one of the
//     configured names or admin_gui_url's host: a page on another name that DNS-rebinds to the
//     Admin API's address is refused (403);
//   - a state-changing call (not GET, HEAD, OPTIONS) a browser marks cross-site (Sec-Fetch-Site)
//     or sends from another origin (Origin) is refused (403), so a cross-origin form post cannot
//     create entities. curl sends neither header, so form posts from the command line still work.
func (a *API) guard(r *http.Request) (int, map[string]any) {
	if a.opts.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(a.opts.Token)) != 1 {
		return http.StatusUnauthorized, map[string]any{"message": "Invalid credentials. Token or User credentials required"}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !a.hostAllowed(strings.Trim(host, "[]")) {
		return http.StatusForbidden, map[string]any{"message": "the Admin API answers only to its own address: Host '" + shorten(host) +
			"' is not an IP address, a loopback name or admin_gui_url's host (a guard against DNS rebinding); " +
			"to use this name, start mtlsgate serve kong with --admin-hosts " + shorten(host) + " (or MTLSGATE_ADMIN_HOSTS)"}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return 0, nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return http.StatusForbidden, map[string]any{"message": "cross-site requests may not change the Admin API's configuration (Sec-Fetch-Site: " + shorten(site) + ")"}
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != a.guiOrigin() && !sameOrigin(origin, r) {
		return http.StatusForbidden, map[string]any{"message": "cross-origin requests may not change the Admin API's configuration (Origin: " + shorten(origin) +
			"); set admin_gui_url to allow one origin"}
	}
	return 0, nil
}

// hostAllowed reports whether a Host (without port) names this Admin API.
func (a *API) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if u, err := url.Parse(a.opts.GUIURL); err == nil && u.Hostname() != "" && strings.EqualFold(u.Hostname(), host) {
		return true
	}
	for _, h := range a.opts.Hosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// guiOrigin is the origin of admin_gui_url, "" when it is unset.
func (a *API) guiOrigin() string {
	u, err := url.Parse(a.opts.GUIURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// sameOrigin reports whether origin is the Admin API's own (a page it served itself).
func sameOrigin(origin string, r *http.Request) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}

// shorten cuts a client-supplied value for an error message.
func shorten(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// preflight answers OPTIONS as Kong's Admin API does (spec/02-integration/04-admin_api/
// 23-cors_spec.lua): 204 with the endpoint's methods in Allow and Access-Control-Allow-Methods,
// and the request's Access-Control-Request-Headers (default Content-Type) allowed.
func (a *API) preflight(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	methods := "GET, HEAD, OPTIONS, POST"
	switch {
	case r.URL.Path == "/" || r.URL.Path == "":
		methods = "GET, HEAD, OPTIONS"
	case len(segs)%2 == 0 && segs[0] != "config":
		methods = "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
	}
	w.Header().Set("Allow", methods)
	w.Header().Set("Access-Control-Allow-Methods", methods)
	headers := r.Header.Get("Access-Control-Request-Headers")
	if headers == "" {
		headers = "Content-Type"
	}
	w.Header().Set("Access-Control-Allow-Headers", headers)
	w.WriteHeader(http.StatusNoContent)
}
