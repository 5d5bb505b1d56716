package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"

	"github.com/mtlsgate/mtlsgate/catalog"
)

// ALBBlackBoxIDs are the ALB behaviours the black-box specs check on a listener as it is.
var ALBBlackBoxIDs = []catalog.ID{"A-MODE-3"}

// Names of the refused identities of an ALBBlackBox.
const (
	BlackBoxUntrusted = "untrusted"
	BlackBoxExpired   = "expired"
	BlackBoxRevoked   = "revoked"
)

// ALBBlackBox is an ALB listener in verify mode on ELBSecurityPolicy-TLS13-1-3-2021-06 whose trust
// store holds a CA bundle and its CRL, and the client identities the black-box specs present: one
// it accepts and those it must refuse.
type ALBBlackBox struct {
	// Version names the load balancer in the conformance report.
	Version string
	// URL is what the good client requests; the listener answers it with 200.
	URL string
	// Good is a certificate the trust store accepts.
	Good tls.Certificate
	// Refused are certificates it must refuse, by BlackBoxUntrusted, BlackBoxExpired and
	// BlackBoxRevoked; a name missing is a check the user gave no certificate for.
	Refused map[string]tls.Certificate
}

// ALBBlackBoxTarget is a target whose ALB is certified as it is: the suite only sends it traffic.
type ALBBlackBoxTarget interface {
	Target
	StartALBBlackBox(ctx context.Context) (*ALBBlackBox, error)
}

// ExternalALB is the external target's ALB (profile: alb): its listener and the certificates the
// user supplies. Paths are relative to the YAML file.
type ExternalALB struct {
	// ListenerURL is the URL the good client requests, e.g. https://my-alb-123.eu-west-1.elb.amazonaws.com/health;
	// the listener must be in verify mode with a TLS 1.3-only policy.
	ListenerURL string `yaml:"listener_url"`
	// Clients are PEM certificate and key files: good is required, the refused ones are each
	// checked when given.
	Clients struct {
		Good      ExternalPair `yaml:"good"`
		Untrusted ExternalPair `yaml:"untrusted"`
		Expired   ExternalPair `yaml:"expired"`
		Revoked   ExternalPair `yaml:"revoked"`
	} `yaml:"clients"`
}

// ExternalPair is a client certificate and its key, as PEM files.
type ExternalPair struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

func (a *ExternalALB) pairs() map[string]*ExternalPair {
	return map[string]*ExternalPair{"good": &a.Clients.Good, BlackBoxUntrusted: &a.Clients.Untrusted,
		BlackBoxExpired: &a.Clients.Expired, BlackBoxRevoked: &a.Clients.Revoked}
}

// files are the paths the YAML names, for resolving against its directory.
func (a *ExternalALB) files() []*string {
	var out []*string
	for _, p := range a.pairs() {
		out = append(out, &p.Cert, &p.Key)
	}
	return out
}

func (a *ExternalALB) validate() error {
	u, err := url.Parse(a.ListenerURL)
	if a.ListenerURL == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("external target: alb.listener_url %q: give the HTTPS listener's URL, e.g. https://my-alb-123.eu-west-1.elb.amazonaws.com/", a.ListenerURL)
	}
	for name, p := range a.pairs() {
		if (p.Cert == "") != (p.Key == "") {
			return fmt.Errorf("external target: alb.clients.%s: cert and key go together: give both or neither", name)
		}
	}
	if a.Clients.Good.Cert == "" {
		return errors.New("external target: alb.clients.good.cert and key are required: a client certificate the listener's trust store accepts")
	}
	return nil
}

// claims: the black-box IDs only.
func (a *ExternalALB) claims(id catalog.ID) (bool, string) {
	b, ok := catalog.Lookup(id)
	if !ok || b.Profile != catalog.ALB {
		return false, "the external target with profile: alb implements the alb profile only"
	}
	for _, bb := range ALBBlackBoxIDs {
		if bb == id {
			return true, ""
		}
	}
	return false, "an external ALB is certified black-box (the handshake checks of A-MODE-3): " + string(id) + "'s specs set up their own scenario"
}

// StartALBBlackBox implements ALBBlackBoxTarget: it loads the user's certificates; the ALB is
// theirs and keeps running.
func (t *ExternalTarget) StartALBBlackBox(context.Context) (*ALBBlackBox, error) {
	c, err := t.config()
	if err != nil {
		return nil, err
	}
	if c.Profile != string(catalog.ALB) {
		return nil, errors.New("external target: the black-box ALB needs profile: alb")
	}
	out := &ALBBlackBox{Version: c.Version, URL: c.ALB.ListenerURL, Refused: map[string]tls.Certificate{}}
	if out.Version == "" {
		out.Version = "external ALB " + c.ALB.ListenerURL
	}
	for name, p := range c.ALB.pairs() {
		if p.Cert == "" {
			continue
		}
		cert, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return nil, fmt.Errorf("external target: alb.clients.%s: load %q and %q: %w", name, p.Cert, p.Key, err)
		}
		if name == "good" {
			out.Good = cert
		} else {
			out.Refused[name] = cert
		}
	}
	return out, nil
}
