package harness

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/apigw"
)

// ALBTarget is a target that can run the ALB profile.
type ALBTarget interface {
	Target
	StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error)
}

// Target Ids a suite may register in an ALB configuration's target groups (with Port 0): the
// harness replaces them with the address where that system's upstream listens, so a suite names
// what it wants and every target (in-process, containers) resolves it its own way.
const (
	// ALBTargetEcho is the plain-HTTP echo upstream.
	ALBTargetEcho = "echo"
	// ALBTargetEchoTLS is the HTTPS echo upstream (its certificate chains to the PKI's root).
	ALBTargetEchoTLS = "echo-tls"
	// ALBTargetAPIGW is the private API Gateway stand-in (HTTPS, TLS 1.2 only).
	ALBTargetAPIGW = "apigw"
)

// ALBSetup is what a suite asks of an ALB-profile system.
type ALBSetup struct {
	PKI *fixtures.PKI
	// Config is the load balancer's first configuration, in reference/alb's YAML types. File
	// names in it must be readable by the target (absolute paths for the in-process reference).
	Config alb.Config
	// Domains are the API Gateway stand-in's first custom domain names (none: every request 403).
	Domains []apigw.Domain
}

// ALBSystem is a running ALB-profile system and the upstreams behind it.
type ALBSystem struct {
	// Version is the load balancer's own version, for the conformance report.
	Version string
	// ListenerURLs are the listeners' base URLs, in configuration order.
	ListenerURLs []string
	// ClientIP is the address the load balancer sees the suite's connections come from, as its
	// connection log records it: 127.0.0.1 in-process; for containers, the Docker network's
	// gateway (published ports are forwarded from there).
	ClientIP string
	// ListenerPorts are the ports the listeners are bound to where the load balancer runs, as its
	// connection log records them (in a container, its own ports rather than the published ones).
	ListenerPorts []string
	// EchoURL, EchoTLSURL and APIGWURL are the upstreams as a suite reaches them directly.
	EchoURL, EchoTLSURL, APIGWURL string

	apply   func(context.Context, alb.Config) error
	health  func(group string) ([]alb.TargetHealth, error)
	domains func([]apigw.Domain) error
	log     *LineBuffer
	connLog func() []string // when set, the connection log is read here instead of log
	// configurer built the system through the ELBv2 API (nil: through the YAML loader).
	configurer *elbv2Configurer
	resolver   map[string]string
	stop       func(context.Context) error
}

// Apply replaces the load balancer's configuration, as a reload does; a configuration that does
// not load returns its error and leaves the running one in force.
func (s *ALBSystem) Apply(ctx context.Context, cfg alb.Config) error {
	return s.apply(ctx, s.Resolve(cfg))
}

// Resolve returns cfg with the well-known target Ids (ALBTargetEcho, …) replaced by addresses.
func (s *ALBSystem) Resolve(cfg alb.Config) alb.Config {
	cfg.TargetGroups = slices.Clone(cfg.TargetGroups)
	for i := range cfg.TargetGroups {
		ts := slices.Clone(cfg.TargetGroups[i].Targets)
		for j, t := range ts {
			if addr, ok := s.resolver[t.Id]; ok && t.Port == 0 {
				host, port, _ := strings.Cut(addr, ":")
				ts[j].Id = host
				ts[j].Port, _ = strconv.Atoi(port)
			}
		}
		cfg.TargetGroups[i].Targets = ts
	}
	return cfg
}

// TargetHealth is DescribeTargetHealth for one target group.
func (s *ALBSystem) TargetHealth(group string) ([]alb.TargetHealth, error) { return s.health(group) }

// SetAPIGWDomains replaces the stand-in's custom domain names and API mappings.
func (s *ALBSystem) SetAPIGWDomains(ds []apigw.Domain) error { return s.domains(ds) }

// ConnectionLog returns the connection log written so far, one line per connection.
func (s *ALBSystem) ConnectionLog() []string {
	if s.connLog != nil {
		return s.connLog()
	}
	return s.log.Lines()
}

// Stop shuts the system down.
func (s *ALBSystem) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	return s.stop(ctx)
}

// LineBuffer is a concurrency-safe writer whose content is read back as lines.
type LineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Lines returns the complete lines written so far.
func (b *LineBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

// hostPort is the host:port of a base URL.
func hostPort(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Host
}
