package alb

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ALB's timeouts (Application Load Balancer user guide: load balancer attributes, and the
// troubleshooting page's 408 and 504).
const (
	// DefaultIdleTimeout is idle_timeout.timeout_seconds' default: the longest a connection,
	// to a client or to a target, may carry no data before ALB gives up on it.
	DefaultIdleTimeout = 60 * time.Second
	// TargetConnectTimeout is how long ALB tries to connect to a target before answering 504.
	TargetConnectTimeout = 10 * time.Second
	// MaxResponseHeaderBytes is ALB's quota for a target's whole response header (32 KB).
	MaxResponseHeaderBytes = 32 << 10
	// AttrIdleTimeout is the load balancer attribute that sets the idle timeout, 1 to 4000 s.
	AttrIdleTimeout = "idle_timeout.timeout_seconds"
)

// lbAttributes are the load balancer attributes the emulator applies.
type lbAttributes struct {
	idle time.Duration
}

// parseLBAttributes reads LoadBalancerAttributes; an attribute the emulator does not apply is an
// error naming it, so a setting is never silently ignored.
func parseLBAttributes(attrs []Attribute) (lbAttributes, error) {
	out := lbAttributes{idle: DefaultIdleTimeout}
	seen := map[string]bool{}
	for i, a := range attrs {
		where := fmt.Sprintf("LoadBalancerAttributes[%d]", i)
		if seen[a.Key] {
			return out, fmt.Errorf("%s: %q is set twice", where, a.Key)
		}
		seen[a.Key] = true
		switch a.Key {
		case AttrIdleTimeout:
			n, err := strconv.Atoi(strings.TrimSpace(a.Value))
			if err != nil || n < 1 || n > 4000 {
				return out, fmt.Errorf("%s: %s %q: give whole seconds from 1 to 4000 (ALB's range; 60 by default)", where, AttrIdleTimeout, a.Value)
			}
			out.idle = time.Duration(n) * time.Second
		default:
			return out, fmt.Errorf("%s: the emulator does not apply the attribute %q (it applies %s)", where, a.Key, AttrIdleTimeout)
		}
	}
	return out, nil
}

// idleTimeout is the idle timeout in force.
func (a *ALB) idleTimeout() time.Duration {
	if st := a.state.Load(); st != nil {
		return st.attrs.idle
	}
	return DefaultIdleTimeout
}

// albOwnedHeaders are the request headers ALB sets itself.
var albOwnedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"}

// dropSpoofs removes client headers that are an underscore spelling of a header ALB owns
// (X_Amzn_Mtls_Clientcert, X_Forwarded_For): targets in the CGI tradition read X_A and X-A alike
// as HTTP_X_A, so such a header would pose as ALB's own (mtlsgate rule, SPEC A-HDR-2).
func dropSpoofs(hdr http.Header, names HeaderNames) {
	var owned map[string]bool // made only for a request that has a name with an underscore
	for k := range hdr {
		if !strings.Contains(k, "_") {
			continue
		}
		if owned == nil {
			owned = map[string]bool{}
			for _, n := range append(names.All(), albOwnedHeaders...) {
				owned[hyphenForm(n)] = true
			}
		}
		if n := hyphenForm(k); owned[n] || strings.HasPrefix(n, mtlsHeaderPrefix) {
			delete(hdr, k)
		}
	}
}

// hyphenForm is a header name with underscores read as hyphens, canonicalised.
func hyphenForm(name string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
}

// targetErrorStatus is ALB's answer when forwarding to a target fails: 504 when the target did
// not connect within 10 s or went quiet past the idle timeout, 502 otherwise.
func targetErrorStatus(err error) (int, string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout, StatusText(http.StatusGatewayTimeout)
	}
	return http.StatusBadGateway, StatusText(http.StatusBadGateway)
}
