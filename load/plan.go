// Package load is mtlsgate's traffic simulator (SPEC §3, L-1…L-4), built on vegeta: a weighted
// population of TLS identities attacks a gateway, each class with the outcome its profile
// promises (Kong: a status and body; ALB in verify mode: a failed handshake), and every answer is
// classified expected or violation by the simulator itself, so "does it keep conforming under
// load?" has a yes-or-no answer. Traffic only ever goes to loopback, and every run is bounded in
// time and count.
package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Mode is how connections are used, because what mTLS costs depends on how often a client
// handshakes.
type Mode string

// The connection modes of L-2.
const (
	// KeepAlive reuses connections: few handshakes, the cheapest case.
	KeepAlive Mode = "keepalive"
	// Handshake opens a new connection with a full handshake for every request (a handshake storm).
	Handshake Mode = "handshake"
	// Resume opens a new connection per request but resumes the TLS session (tickets).
	Resume Mode = "resume"
)

// Modes lists the modes, for flags and messages.
func Modes() []Mode { return []Mode{KeepAlive, Handshake, Resume} }

// PacerKind names the shape of the request rate over time.
type PacerKind string

// The pacers of L-2.
const (
	Constant PacerKind = "constant"
	Linear   PacerKind = "linear"
	Sine     PacerKind = "sine"
)

// Pacer says how fast to send, so a run can hold a rate, ramp up to find where latency breaks,
// or oscillate like daily traffic.
type Pacer struct {
	Kind PacerKind `json:"kind"`
	// Rate is requests per second: the constant rate, the linear ramp's start, the sine's mean.
	Rate float64 `json:"rate"`
	// Slope is the linear ramp's increase in requests per second, per second.
	Slope float64 `json:"slope,omitempty"`
	// Period and Amplitude shape the sine (Amplitude in requests per second, below Rate).
	Period    time.Duration `json:"period,omitempty"`
	Amplitude float64       `json:"amplitude,omitempty"`
}

// String describes the pacer for reports.
func (p Pacer) String() string {
	r := strconv.FormatFloat(p.Rate, 'f', -1, 64)
	switch p.Kind {
	case Linear:
		return fmt.Sprintf("linear from %s/s, +%s/s per second", r, strconv.FormatFloat(p.Slope, 'f', -1, 64))
	case Sine:
		return fmt.Sprintf("sine around %s/s ±%s/s, period %s", r, strconv.FormatFloat(p.Amplitude, 'f', -1, 64), p.Period)
	}
	return "constant " + r + "/s"
}

// vegeta turns the pacer into vegeta's.
func (p Pacer) vegeta() (vegeta.Pacer, error) {
	if !(p.Rate > 0) || math.IsInf(p.Rate, 0) {
		return nil, fmt.Errorf("pacer rate %v: must be a positive number of requests per second (an unbounded rate is refused)", p.Rate)
	}
	// vegeta rates are integers per period: per millisecond keeps three decimals of a rate.
	rate := vegeta.Rate{Freq: int(math.Max(1, math.Round(p.Rate*1000))), Per: time.Second * 1000}
	if p.Rate >= 1 && p.Rate == math.Trunc(p.Rate) {
		rate = vegeta.Rate{Freq: int(p.Rate), Per: time.Second}
	}
	switch p.Kind {
	case Constant, "":
		return rate, nil
	case Linear:
		if p.Slope < 0 {
			return nil, fmt.Errorf("pacer slope %v: a linear ramp needs a slope ≥ 0 requests per second per second", p.Slope)
		}
		return vegeta.LinearPacer{StartAt: rate, Slope: p.Slope}, nil
	case Sine:
		if p.Period <= 0 {
			return nil, errors.New("pacer period: a sine pacer needs a period > 0 (e.g. 10s)")
		}
		if p.Amplitude < 0 || p.Amplitude >= p.Rate {
			return nil, fmt.Errorf("pacer amplitude %v: must be ≥ 0 and below the mean rate %v", p.Amplitude, p.Rate)
		}
		amp := vegeta.Rate{Freq: int(math.Round(p.Amplitude * 1000)), Per: time.Second * 1000}
		return vegeta.SinePacer{Period: p.Period, Mean: rate, Amp: amp, StartAt: vegeta.MeanUp}, nil
	}
	return nil, fmt.Errorf("pacer kind %q: use constant, linear or sine", p.Kind)
}

// Outcome is what a request should get (or got): an HTTP status with a body fragment, or a
// handshake that fails before any HTTP response.
type Outcome struct {
	Status           int    `json:"status,omitempty"`
	BodyContains     string `json:"body_contains,omitempty"`
	HandshakeFailure bool   `json:"handshake_failure,omitempty"`
}

// String is the outcome as reports show it: `401 "No required TLS certificate was sent"`,
// `handshake-failure`.
func (o Outcome) String() string {
	switch {
	case o.HandshakeFailure:
		return HandshakeFailureLabel
	case o.BodyContains != "":
		return strconv.Itoa(o.Status) + " " + strconv.Quote(o.BodyContains)
	}
	return strconv.Itoa(o.Status)
}

// Success reports whether the outcome lets the request through (2xx), which is what a lost valid
// request or a late-enforced revocation is measured against.
func (o Outcome) Success() bool { return !o.HandshakeFailure && o.Status >= 200 && o.Status < 300 }

// HandshakeFailureLabel is the observed outcome of a request that got no HTTP response because
// the TLS handshake failed.
const HandshakeFailureLabel = "handshake-failure"

// Class is one kind of client in the population: an identity (or none), TLS tweaks, a weight and
// the outcome the profile promises it.
type Class struct {
	Name string `json:"name"`
	// Weight is the class's share of requests relative to the others' (0 leaves it out).
	Weight int `json:"weight"`
	// Identity names the fixture the certificate comes from (informational; "" for none).
	Identity string `json:"identity,omitempty"`
	// Certificate is presented when the server asks; nil presents none.
	Certificate *tls.Certificate `json:"-"`
	// MaxVersion caps the client's TLS version (tls.VersionTLS12 for the "wrong TLS version"
	// class); 0 is Go's default.
	MaxVersion uint16  `json:"max_version,omitempty"`
	Expect     Outcome `json:"expect"`
}

// Event is something done to the target mid-run, after which one class's expected outcome
// changes: revoking its certificate (L-3).
type Event struct {
	// Name describes the event in reports ("revoke client-midrun").
	Name string `json:"name"`
	// At is when, counted from the start of the attack.
	At time.Duration `json:"at"`
	// Class is the class whose expectation changes; Expect is the new one.
	Class  string  `json:"class"`
	Expect Outcome `json:"expect"`
	// Grace is how long after Apply returns the old outcome is still tolerated (a cache TTL
	// propagating); answers after it that still match the old outcome are violations.
	Grace time.Duration `json:"grace"`
	// Apply does it (replace the CRL on the target's responder, say).
	Apply func(ctx context.Context) error `json:"-"`
}

// Progress is a snapshot of a running attack, for a terminal progress line.
type Progress struct {
	Elapsed    time.Duration
	Requests   uint64
	Violations uint64
	Handshakes uint64
}

// Plan is one attack: where, who, how connections are used, how fast, and for how long.
type Plan struct {
	// Target is the URL every request goes to (GET); its host must be loopback.
	Target string `json:"target"`
	// Profile names the profile the expectations come from ("kong", "alb"), for reports.
	Profile string  `json:"profile"`
	Classes []Class `json:"classes"`
	Mode    Mode    `json:"mode"`
	Pacer   Pacer   `json:"pacer"`
	// Duration and MaxRequests both bound the attack; both are required.
	Duration    time.Duration `json:"duration"`
	MaxRequests uint64        `json:"max_requests"`
	Events      []Event       `json:"events,omitempty"`
	// Timeout bounds each request (default 10s).
	Timeout time.Duration `json:"timeout"`
	// Workers is vegeta's initial worker count (default 10); MaxWorkers bounds how many it may
	// add to hold the rate (default 256).
	Workers    uint64 `json:"workers"`
	MaxWorkers uint64 `json:"max_workers"`
	// RootCAs verifies the gateway's certificate; nil skips verification, like curl -k (the
	// simulator tests the gateway's view of the client, not the other way round).
	RootCAs *x509.CertPool `json:"-"`
	// ServerName is the SNI sent; empty uses the URL's host.
	ServerName string `json:"server_name,omitempty"`
	// HTTP2 makes every request HTTP/2, negotiated by ALPN (SPEC K-H2-1, A-H2-1); a gateway that
	// does not offer h2 fails every request.
	HTTP2 bool `json:"http2,omitempty"`
	// Progress, when set, is called about once a second from another goroutine.
	Progress func(Progress) `json:"-"`
	// StartAt, when set, is the wall-clock time the attack starts: the shards of one distributed
	// attack (L-5) share it so their pacers line up. A time already past starts at once.
	StartAt time.Time `json:"start_at,omitzero"`
	// AllowHosts names hosts besides loopback the operator chose to attack (their own gateway's
	// Service in a cluster, a container on their test network); matched exactly.
	AllowHosts []string `json:"allow_hosts,omitempty"`
}

// Bounds on a plan, so a typo cannot start an hour-long storm.
const (
	MaxDuration    = time.Hour
	MaxRequestsCap = 10_000_000
	// MaxStartDelay bounds how far ahead a shared start time may lie.
	MaxStartDelay  = 15 * time.Minute
	maxClasses     = 64
	defaultTimeout = 10 * time.Second
)

// validate checks the plan and fills defaults; a bad plan is refused whole with the field named.
func (p *Plan) validate() (*url.URL, error) {
	u, err := url.Parse(p.Target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("plan target %q: want an http(s) URL such as https://127.0.0.1:8443/mtls", p.Target)
	}
	if err := CheckHost(u.Hostname(), p.AllowHosts); err != nil {
		return nil, fmt.Errorf("plan target %q: %w", p.Target, err)
	}
	if wait := time.Until(p.StartAt); wait > MaxStartDelay {
		return nil, fmt.Errorf("plan start at %s: %s away, more than %s (a shared start is minutes ahead, not hours)", p.StartAt.Format(time.RFC3339), wait.Round(time.Second), MaxStartDelay)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("plan target %q: drop the #fragment (the simulator uses it to tag classes)", p.Target)
	}
	if p.Duration <= 0 || p.Duration > MaxDuration {
		return nil, fmt.Errorf("plan duration %s: must be > 0 and ≤ %s (every attack is bounded in time)", p.Duration, MaxDuration)
	}
	if p.MaxRequests == 0 || p.MaxRequests > MaxRequestsCap {
		return nil, fmt.Errorf("plan max requests %d: must be between 1 and %d (every attack is bounded in count)", p.MaxRequests, MaxRequestsCap)
	}
	switch p.Mode {
	case "":
		p.Mode = KeepAlive
	case KeepAlive, Handshake, Resume:
	default:
		return nil, fmt.Errorf("plan mode %q: use keepalive, handshake or resume", p.Mode)
	}
	if p.Timeout <= 0 {
		p.Timeout = defaultTimeout
	}
	if p.Workers == 0 {
		p.Workers = vegeta.DefaultWorkers
	}
	if p.MaxWorkers == 0 {
		p.MaxWorkers = 256
	}
	if p.Workers > p.MaxWorkers {
		p.Workers = p.MaxWorkers
	}
	var active int
	seen := map[string]bool{}
	for i, c := range p.Classes {
		if c.Name == "" {
			return nil, fmt.Errorf("plan class %d: Name is empty", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("plan class %q: named twice", c.Name)
		}
		seen[c.Name] = true
		if c.Weight < 0 {
			return nil, fmt.Errorf("plan class %q: weight %d is negative (use 0 to leave it out)", c.Name, c.Weight)
		}
		if c.Weight > 0 {
			active++
		}
		if !c.Expect.HandshakeFailure && (c.Expect.Status < 100 || c.Expect.Status > 599) {
			return nil, fmt.Errorf("plan class %q: expected status %d is not an HTTP status (or set HandshakeFailure)", c.Name, c.Expect.Status)
		}
	}
	if active == 0 {
		return nil, errors.New("plan classes: no class has a weight > 0")
	}
	if len(p.Classes) > maxClasses {
		return nil, fmt.Errorf("plan classes: %d classes, at most %d", len(p.Classes), maxClasses)
	}
	for _, e := range p.Events {
		if !seen[e.Class] {
			return nil, fmt.Errorf("plan event %q: class %q is not in the population", e.Name, e.Class)
		}
		if e.Apply == nil {
			return nil, fmt.Errorf("plan event %q: Apply is nil", e.Name)
		}
		if e.At < 0 || e.At >= p.Duration {
			return nil, fmt.Errorf("plan event %q: at %s must fall inside the run (0 ≤ at < duration %s)", e.Name, e.At, p.Duration)
		}
	}
	return u, nil
}

// CheckHost accepts loopback and the hosts the operator named in allow (exactly); it refuses
// anything else, so traffic never goes where nobody pointed it.
func CheckHost(host string, allow []string) error {
	for _, a := range allow {
		if a != "" && strings.EqualFold(a, host) {
			return nil
		}
	}
	if err := CheckLoopback(host); err != nil {
		if len(allow) > 0 {
			return fmt.Errorf("%w (allowed besides: %s)", err, strings.Join(allow, ", "))
		}
		return fmt.Errorf("%w; to attack a gateway you run elsewhere, name its host with --allow-host", err)
	}
	return nil
}

// CheckLoopback refuses any host that is not loopback (127.0.0.0/8, ::1, localhost): the
// simulator never sends traffic anywhere else.
func CheckLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q is not loopback: the simulator only attacks 127.0.0.0/8, ::1 or localhost", host)
}
