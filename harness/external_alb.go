package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

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
	// Region, ListenerArn, TrustStoreArn and Bucket, given together, let the A-API-1 specs change
	// that listener and trust store and write to that bucket through the ELBv2, S3 and ACM APIs,
	// with credentials from AWS's usual chain; nothing else is touched.
	Region        string `yaml:"region"`
	ListenerArn   string `yaml:"listener_arn"`
	TrustStoreArn string `yaml:"trust_store_arn"`
	Bucket        string `yaml:"bucket"`
	// EndpointURL replaces AWS's endpoints (an emulator's, e.g. mtlsgate serve alb --api).
	EndpointURL string `yaml:"endpoint_url"`
	// Echo says the listener forwards to mtlsgate's echo (mtlsgate serve upstream, registered as
	// an IP target), so the specs can check what the target sees.
	Echo bool `yaml:"echo"`
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
	if api := []string{a.Region, a.ListenerArn, a.TrustStoreArn, a.Bucket}; slices.Contains(api, "") && slices.ContainsFunc(api, func(v string) bool { return v != "" }) {
		return errors.New("external target: alb.region, listener_arn, trust_store_arn and bucket go together: give all four to run the ELBv2 API specs, or none for the black-box specs alone")
	}
	if a.Clients.Good.Cert == "" {
		return errors.New("external target: alb.clients.good.cert and key are required: a client certificate the listener's trust store accepts")
	}
	return nil
}

// api reports whether the ELBv2 API specs may change the named resources.
func (a *ExternalALB) api() bool { return a.ListenerArn != "" }

// claims: the black-box IDs, and A-API-1 when resources are named.
func (a *ExternalALB) claims(id catalog.ID) (bool, string) {
	b, ok := catalog.Lookup(id)
	if !ok || b.Profile != catalog.ALB {
		return false, "the external target with profile: alb implements the alb profile only"
	}
	if slices.Contains(ALBBlackBoxIDs, id) || (id == ReferenceOnlyALBAPI && a.api()) {
		return true, ""
	}
	if id == ReferenceOnlyALBAPI {
		return false, "give alb.region, listener_arn, trust_store_arn and bucket to run the ELBv2 API specs against the listener and trust store they name"
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

// StartALBAPI implements ALBAPITarget: the SDK configuration (AWS's credential chain, the region,
// endpoint_url if given) and the resources the specs may change.
func (t *ExternalTarget) StartALBAPI(ctx context.Context, _ ALBAPISetup) (*ALBAPISystem, error) {
	c, err := t.config()
	if err != nil {
		return nil, err
	}
	a := c.ALB
	if c.Profile != string(catalog.ALB) || !a.api() {
		return nil, errors.New("external target: the ELBv2 API specs need profile: alb with alb.region, listener_arn, trust_store_arn and bucket")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(a.Region))
	if err != nil {
		return nil, fmt.Errorf("external target: AWS credentials: %w", err)
	}
	if a.EndpointURL != "" {
		cfg.BaseEndpoint = &a.EndpointURL
	}
	version := c.Version
	if version == "" {
		version = "external ALB " + a.ListenerArn
	}
	return &ALBAPISystem{Version: version, AWS: cfg, Endpoint: a.EndpointURL,
		Named: &ALBNamed{ListenerArn: a.ListenerArn, TrustStoreArn: a.TrustStoreArn, Bucket: a.Bucket, ListenerURL: a.ListenerURL, Echo: a.Echo},
		stop:  func(context.Context) error { return nil }}, nil
}
