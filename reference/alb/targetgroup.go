package alb

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/h1upstream"
	"github.com/mtlsgate/mtlsgate/internal/idleconn"
)

// Target health states, as DescribeTargetHealth reports them.
const (
	StateInitial   = "initial"
	StateHealthy   = "healthy"
	StateUnhealthy = "unhealthy"
	StateUnused    = "unavailable"
)

// TargetHealth is one target's health (DescribeTargetHealth's TargetHealthDescriptions).
type TargetHealth struct {
	Id          string //nolint:revive // the ELBv2 API's spelling
	Port        int
	State       string
	Reason      string
	Description string
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ From, To int }

// ParseHTTPCodes reads a Matcher.HttpCode: codes and ranges, comma-separated ("200",
// "200,403", "200-299"). ALB's HTTP health checks take codes from 200 to 499 only.
func ParseHTTPCodes(s string) ([]CodeRange, error) {
	if strings.TrimSpace(s) == "" {
		return []CodeRange{{200, 200}}, nil
	}
	var out []CodeRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		from, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("Matcher.HttpCode %q: %q is not a status code or range like 200-299", s, part)
		}
		to := from
		if isRange {
			if to, err = strconv.Atoi(hi); err != nil || to < from {
				return nil, fmt.Errorf("Matcher.HttpCode %q: %q is not a range like 200-299", s, part)
			}
		}
		for _, c := range []int{from, to} {
			if c < 200 || c > 499 {
				return nil, fmt.Errorf("Matcher.HttpCode %q: %d is outside 200-499, the codes an HTTP health check can match", s, c)
			}
		}
		out = append(out, CodeRange{from, to})
	}
	return out, nil
}

func matches(rs []CodeRange, code int) bool {
	for _, r := range rs {
		if code >= r.From && code <= r.To {
			return true
		}
	}
	return false
}

// targetGroup is a running target group: its targets, their health and the transport to them.
type targetGroup struct {
	cfg    TargetGroup
	scheme string
	// transport carries health checks; byPolicy the requests of listeners, one per back-end
	// policy (BackendPolicy), made on first use: plain HTTP requests without a body over
	// h1upstream's pool, the rest over its http.Transport.
	transport *http.Transport
	mu        sync.Mutex
	byPolicy  map[string]*h1upstream.Transport
	// idle gives the load balancer's idle timeout in force, read at each new connection.
	idle    func() time.Duration
	targets []*target
	rr      atomic.Uint64

	check     healthCheck
	startOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

type healthCheck struct {
	enabled            bool
	scheme, path       string
	interval, timeout  time.Duration
	healthy, unhealthy int
	codes              []CodeRange
}

type target struct {
	id   string
	port int
	mu   sync.Mutex
	h    TargetHealth
	ok   int // consecutive successes
	bad  int // consecutive failures
}

func (t *target) addr() string { return net.JoinHostPort(t.id, strconv.Itoa(t.port)) }

func (t *target) health() TargetHealth {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h
}

// newTargetGroup validates a target group; its health checks start with start.
// idle is asked for the idle timeout in force at each connection to a target.
func newTargetGroup(cfg TargetGroup, where string, idle func() time.Duration) (*targetGroup, error) {
	if cfg.TargetGroupName == "" {
		return nil, fmt.Errorf("%s: TargetGroupName is required", where)
	}
	where = fmt.Sprintf("target group %q", cfg.TargetGroupName)
	scheme, err := schemeOf(cfg.Protocol)
	if err != nil {
		return nil, fmt.Errorf("%s: Protocol: %w", where, err)
	}
	hc := healthCheck{enabled: cfg.HealthCheckEnabled == nil || *cfg.HealthCheckEnabled, scheme: scheme, path: "/",
		interval: 30 * time.Second, timeout: 5 * time.Second, healthy: 5, unhealthy: 2}
	if cfg.HealthCheckProtocol != "" {
		if hc.scheme, err = schemeOf(cfg.HealthCheckProtocol); err != nil {
			return nil, fmt.Errorf("%s: HealthCheckProtocol: %w", where, err)
		}
	}
	if cfg.HealthCheckPath != "" {
		if !strings.HasPrefix(cfg.HealthCheckPath, "/") {
			return nil, fmt.Errorf("%s: HealthCheckPath %q must start with /", where, cfg.HealthCheckPath)
		}
		hc.path = cfg.HealthCheckPath
	}
	if s := cfg.HealthCheckIntervalSeconds; s != 0 {
		if s < 0 || s > 300 {
			return nil, fmt.Errorf("%s: HealthCheckIntervalSeconds %g: use a value above 0 and at most 300", where, s)
		}
		hc.interval = time.Duration(s * float64(time.Second))
	}
	hc.timeout = min(hc.timeout, hc.interval)
	if s := cfg.HealthCheckTimeoutSeconds; s != 0 {
		if s < 0 || s > 120 {
			return nil, fmt.Errorf("%s: HealthCheckTimeoutSeconds %g: use a value above 0 and at most 120", where, s)
		}
		hc.timeout = time.Duration(s * float64(time.Second))
	}
	for _, th := range []struct {
		name string
		v    int
		dst  *int
	}{{"HealthyThresholdCount", cfg.HealthyThresholdCount, &hc.healthy}, {"UnhealthyThresholdCount", cfg.UnhealthyThresholdCount, &hc.unhealthy}} {
		if th.v == 0 {
			continue
		}
		if th.v < 2 || th.v > 10 {
			return nil, fmt.Errorf("%s: %s %d: use 2 to 10", where, th.name, th.v)
		}
		*th.dst = th.v
	}
	if hc.codes, err = ParseHTTPCodes(cfg.Matcher.HttpCode); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	tg := &targetGroup{cfg: cfg, scheme: scheme, check: hc, idle: idle, transport: targetTransport(TargetPolicy, idle)}
	for i, t := range cfg.Targets {
		if t.Id == "" || t.Port < 1 || t.Port > 65535 {
			return nil, fmt.Errorf("%s: Targets[%d]: give an Id (IP address) and a Port from 1 to 65535", where, i)
		}
		st := StateInitial
		reason, desc := "Elb.RegistrationInProgress", "Target registration is in progress"
		if !hc.enabled {
			st, reason, desc = StateUnused, "Target.HealthCheckDisabled", "Health checks are disabled"
		}
		tg.targets = append(tg.targets, &target{id: t.Id, port: t.Port, h: TargetHealth{Id: t.Id, Port: t.Port, State: st, Reason: reason, Description: desc}})
	}
	return tg, nil
}

func schemeOf(protocol string) (string, error) {
	switch protocol {
	case "HTTP":
		return "http", nil
	case "HTTPS":
		return "https", nil
	}
	return "", fmt.Errorf("%q: use HTTP or HTTPS", protocol)
}

// transportFor is the transport to the group's targets under the back-end policy named policy.
func (g *targetGroup) transportFor(policy string) *h1upstream.Transport {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.byPolicy[policy]; t != nil {
		return t
	}
	if g.byPolicy == nil {
		g.byPolicy = map[string]*h1upstream.Transport{}
	}
	t := h1upstream.New(targetTransport(policy, g.idle))
	g.byPolicy[policy] = t
	return t
}

// closeIdle drops the idle connections of every transport of the group.
func (g *targetGroup) closeIdle() {
	g.transport.CloseIdleConnections()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.byPolicy {
		t.CloseIdleConnections()
	}
}

// targetTransport talks to targets with the back-end policy named policy and, as ALB does,
// without verifying the target's certificate. A connection must open within 10 s and may stay
// quiet no longer than the idle timeout idle() gives, before the answer and inside it alike.
func targetTransport(policy string, idle func() time.Duration) *http.Transport {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // ALB does not verify targets (SPEC A-TG-1)
	if p, err := LookupPolicy(policy); err == nil {
		p.apply(conf)
	}
	return &http.Transport{
		TLSClientConfig: conf,
		DialContext: idleconn.Dialer(TargetConnectTimeout, func() (time.Duration, time.Duration) {
			d := idle()
			return d, d
		}),
		// Enough idle connections per target that a busy listener reuses them instead of
		// dialling one per request.
		MaxIdleConnsPerHost: 256,
		// ALB's quota for a whole response header.
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		IdleConnTimeout:        60 * time.Second,
		// ALB forwards Accept-Encoding as the client sent it; Go's transport would otherwise add
		// its own gzip to a request that had none and decompress the target's answer.
		DisableCompression: true,
	}
}

// pick chooses a target round-robin among the healthy ones; when none is healthy it fails open
// to all of them; nil means the group has no target.
func (g *targetGroup) pick() *target {
	if len(g.targets) == 0 {
		return nil
	}
	// Two passes over the targets instead of a slice of the healthy ones: no allocation per
	// request. A health change between the passes only shifts which target this request gets.
	n := 0
	for _, t := range g.targets {
		if t.usable() {
			n++
		}
	}
	if n == 0 {
		return g.targets[int(g.rr.Add(1)-1)%len(g.targets)]
	}
	k := int(g.rr.Add(1)-1) % n
	var last *target
	for _, t := range g.targets {
		if t.usable() {
			if k == 0 {
				return t
			}
			k--
			last = t
		}
	}
	if last == nil {
		// Every target turned unhealthy between the passes: fail open, as above.
		return g.targets[0]
	}
	return last
}

// usable reports whether requests may go to the target: healthy, or not health-checked.
func (t *target) usable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h.State == StateHealthy || t.h.State == StateUnused
}

// start runs the health checks in the background until stop.
func (g *targetGroup) start() {
	g.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		g.cancel = cancel
		if !g.check.enabled {
			return
		}
		client := &http.Client{Transport: g.transport, Timeout: g.check.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, t := range g.targets {
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.probeLoop(ctx, client, t)
			}()
		}
	})
}

func (g *targetGroup) stop() {
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	g.closeIdle()
}

func (g *targetGroup) probeLoop(ctx context.Context, client *http.Client, t *target) {
	tick := time.NewTicker(g.check.interval)
	defer tick.Stop()
	for {
		g.probe(ctx, client, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe runs one health check and moves the target between states by the thresholds.
func (g *targetGroup) probe(ctx context.Context, client *http.Client, t *target) {
	ok, reason, desc := true, "", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.check.scheme+"://"+t.addr()+g.check.path, nil)
	if err == nil {
		req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
		var resp *http.Response
		resp, err = client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if !matches(g.check.codes, resp.StatusCode) {
				ok, reason, desc = false, "Target.ResponseCodeMismatch", fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		ok, reason, desc = false, "Target.FailedHealthChecks", "Health checks failed: "+err.Error()
		if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
			reason, desc = "Target.Timeout", "Request timed out"
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		t.ok, t.bad = t.ok+1, 0
		if t.ok >= g.check.healthy {
			t.h.State, t.h.Reason, t.h.Description = StateHealthy, "", ""
		}
		return
	}
	t.ok, t.bad = 0, t.bad+1
	if t.bad >= g.check.unhealthy || t.h.State == StateUnhealthy {
		t.h.State, t.h.Reason, t.h.Description = StateUnhealthy, reason, desc
	}
}
