package main

import (
	"context"
	"crypto/subtle"
	"flag"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/controlapi"
	"github.com/mtlsgate/mtlsgate/internal/serve"
)

// statusFlags are --status-listen and --status-token, the control listener every `serve`
// target with a control API offers, guarded alike.
type statusFlags struct{ addr, token *string }

// addStatusFlags defines the flags; calls describes the target's control calls for --help.
func addStatusFlags(fs *flag.FlagSet, calls string) statusFlags {
	return statusFlags{
		addr: fs.String("status-listen", "", "plain-HTTP control listener (off when empty; e.g. 127.0.0.1:8100, or 0.0.0.0:8100 in a container): "+calls+
			" Host headers other than an IP address, localhost or the listen host are refused; bind it to loopback or a private network, and set --status-token on a shared host"),
		token: fs.String("status-token", os.Getenv("MTLSGATE_STATUS_TOKEN"), "with --status-listen, a token every control call but GET /status/ready must present as Authorization: Bearer <token> (default $MTLSGATE_STATUS_TOKEN; empty means none)"),
	}
}

// on reports whether --status-listen was given.
func (f statusFlags) on() bool { return *f.addr != "" }

// listen serves h behind the control guard on --status-listen; nil, nil when it is off.
func (f statusFlags) listen(ctx context.Context, h http.Handler, log *slog.Logger) (*serve.Server, error) {
	if !f.on() {
		return nil, nil
	}
	listenHost, _, _ := net.SplitHostPort(*f.addr)
	guard := controlGuard{listenHost: listenHost, token: *f.token}
	srv, err := serve.Listen(ctx, *f.addr, guard.wrap(h), serve.Options{ErrorLog: log})
	if err != nil {
		return nil, fmt.Errorf("--status-listen: %w", err)
	}
	return srv, nil
}

// controlGuard protects a plain-HTTP control API from browsers and from other local users:
//   - a Host that is neither an IP address, a loopback name nor the listen host is refused
//     (DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends Host: evil.example);
//   - a state-changing call must carry a non-simple Content-Type (application/yaml, …), which a
//     cross-origin page cannot send without a CORS preflight, and no CORS header is ever sent;
//   - with a token, every call but the readiness probe must present it as a bearer token.
type controlGuard struct {
	listenHost string
	token      string
}

// bodyTypes are the Content-Types a state-changing control call may carry; none is a CORS
// simple-request type (text/plain, application/x-www-form-urlencoded, multipart/form-data).
var bodyTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "application/json"}

// wrap applies the guard to h.
func (g controlGuard) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("control API: Host %q is not this server: call it by IP address, localhost or %s (DNS rebinding protection)", r.Host, g.listenHost), http.StatusForbidden)
			return
		}
		if g.token != "" && !(r.Method == http.MethodGet && r.URL.Path == controlapi.PathReady) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mtlsgate control"`)
				http.Error(w, "control API: give the token of --status-token as Authorization: Bearer <token>", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if !slices.Contains(bodyTypes, mt) {
				http.Error(w, fmt.Sprintf("control API: Content-Type %q refused; send the body as one of %s", r.Header.Get("Content-Type"), strings.Join(bodyTypes, ", ")), http.StatusUnsupportedMediaType)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (g controlGuard) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	return net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") || strings.EqualFold(host, g.listenHost)
}
