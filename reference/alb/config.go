// Package alb is mtlsgate's AWS Application Load Balancer emulator: HTTPS listeners in mutual-TLS
// mode off, passthrough or verify, trust stores with CA bundles and CRLs loaded by ALB's rules,
// ELB security policies by name, the X-Amzn-Mtls-* headers, target groups with health checks and
// ALB's connection log. It is the executable specification of SPEC §2 (A-TS-1 … A-TG-1).
package alb

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mtlsgate/mtlsgate/internal/regularfile"
)

// Config is the whole emulator configuration. Field names mirror the ELBv2 API (CreateListener,
// CreateTrustStore, CreateTargetGroup) so a real listener maps onto it one to one; where the API
// names an S3 object or an ARN, the emulator takes a local file or a name instead.
type Config struct {
	Listeners    []Listener    `yaml:"Listeners"`
	TrustStores  []TrustStore  `yaml:"TrustStores,omitempty"`
	TargetGroups []TargetGroup `yaml:"TargetGroups,omitempty"`
	// ConnectionLogs is where the connection log goes (the load balancer attribute
	// connection_logs.s3.enabled, with a file instead of a bucket).
	ConnectionLogs ConnectionLogs `yaml:"ConnectionLogs,omitempty"`
	// LoadBalancerName is CreateLoadBalancer's Name, which the connection log's elb field
	// carries ("app/<name>/<id>"); empty means "mtlsgate".
	LoadBalancerName string `yaml:"LoadBalancerName,omitempty"`
	// LoadBalancerID is the id the load balancer got at creation (its ARN's last part), which the
	// elb field carries after the name; the ELBv2 API endpoint sets it. Empty derives one from
	// the name (ResourceID).
	LoadBalancerID string `yaml:"-"`
	// LoadBalancerAttributes are ModifyLoadBalancerAttributes' key/value pairs; the emulator
	// applies idle_timeout.timeout_seconds (1 to 4000, default 60), to target and client
	// connections, and client_keep_alive.seconds (60 to 604800, default 3600).
	LoadBalancerAttributes []Attribute `yaml:"LoadBalancerAttributes,omitempty"`
}

// ConnectionLogs names the connection log file; empty Path means no file.
type ConnectionLogs struct {
	Path string `yaml:"Path,omitempty"`
}

// Listener is one HTTPS listener (CreateListener).
type Listener struct {
	// Address is the bind address (an mtlsgate addition; 127.0.0.1 when empty).
	Address string `yaml:"Address,omitempty"`
	// Port is the listen port; 0 picks a free one (tests), and a reload keeps the bound port.
	Port int `yaml:"Port"`
	// Protocol must be HTTPS: the emulator exists for mutual TLS.
	Protocol string `yaml:"Protocol"`
	// SslPolicy is an ELB security policy name; empty means ELBSecurityPolicy-2016-08, the
	// API's default (DefaultPolicy).
	SslPolicy string `yaml:"SslPolicy,omitempty"`
	// Certificates are the server certificates; the first is the default, the others are chosen
	// by SNI (ALB's certificate list).
	Certificates         []Certificate        `yaml:"Certificates"`
	MutualAuthentication MutualAuthentication `yaml:"MutualAuthentication,omitempty"`
	// Attributes are listener attributes such as
	// routing.http.request.x_amzn_mtls_clientcert_subject.header_name.
	Attributes     []Attribute `yaml:"Attributes,omitempty"`
	DefaultActions []Action    `yaml:"DefaultActions"`
}

// Certificate is a server certificate chain and its key, as PEM files (ACM's import).
type Certificate struct {
	CertificateFile string `yaml:"CertificateFile"`
	PrivateKeyFile  string `yaml:"PrivateKeyFile"`
}

// MutualAuthentication is the listener's mTLS block, with the API's names and values.
type MutualAuthentication struct {
	// Mode is off (default), passthrough or verify.
	Mode string `yaml:"Mode,omitempty"`
	// TrustStoreArn names a trust store by its TrustStoreArn or Name; required in verify mode.
	TrustStoreArn                 string `yaml:"TrustStoreArn,omitempty"`
	IgnoreClientCertificateExpiry bool   `yaml:"IgnoreClientCertificateExpiry,omitempty"`
	// AdvertiseTrustStoreCaNames is on or off (default).
	AdvertiseTrustStoreCaNames string `yaml:"AdvertiseTrustStoreCaNames,omitempty"`
}

// Attribute is one listener attribute (ModifyListenerAttributes).
type Attribute struct {
	Key   string `yaml:"Key"`
	Value string `yaml:"Value"`
}

// Action is a listener's default action; only forward is emulated.
type Action struct {
	Type           string `yaml:"Type"`
	TargetGroupArn string `yaml:"TargetGroupArn"`
}

// TrustStore is a CA bundle and its revocation lists (CreateTrustStore, AddTrustStoreRevocations).
type TrustStore struct {
	Name          string `yaml:"Name"`
	TrustStoreArn string `yaml:"TrustStoreArn,omitempty"`
	// CaCertificatesBundleFile replaces the API's S3 bucket and key.
	CaCertificatesBundleFile string               `yaml:"CaCertificatesBundleFile"`
	RevocationContents       []RevocationContents `yaml:"RevocationContents,omitempty"`
}

// RevocationContents is one CRL file; RevocationType is CRL (the only type ALB knows).
type RevocationContents struct {
	File           string `yaml:"File"`
	RevocationType string `yaml:"RevocationType,omitempty"`
}

// TargetGroup is a set of targets and its health check (CreateTargetGroup, RegisterTargets).
type TargetGroup struct {
	TargetGroupName string `yaml:"TargetGroupName"`
	TargetGroupArn  string `yaml:"TargetGroupArn,omitempty"`
	// Protocol is HTTP or HTTPS; ALB does not verify an HTTPS target's certificate.
	Protocol string   `yaml:"Protocol"`
	Targets  []Target `yaml:"Targets,omitempty"`

	HealthCheckEnabled  *bool  `yaml:"HealthCheckEnabled,omitempty"`
	HealthCheckProtocol string `yaml:"HealthCheckProtocol,omitempty"`
	HealthCheckPath     string `yaml:"HealthCheckPath,omitempty"`
	// HealthCheckIntervalSeconds and HealthCheckTimeoutSeconds take fractions in the emulator
	// (0.1), so tests need not wait ALB's 5-second minimum.
	HealthCheckIntervalSeconds float64 `yaml:"HealthCheckIntervalSeconds,omitempty"`
	HealthCheckTimeoutSeconds  float64 `yaml:"HealthCheckTimeoutSeconds,omitempty"`
	HealthyThresholdCount      int     `yaml:"HealthyThresholdCount,omitempty"`
	UnhealthyThresholdCount    int     `yaml:"UnhealthyThresholdCount,omitempty"`
	Matcher                    Matcher `yaml:"Matcher,omitempty"`
}

// Matcher holds the health check's success codes, such as 200, 200,403 or 200-299.
type Matcher struct {
	HttpCode string `yaml:"HttpCode,omitempty"` //nolint:revive // the ELBv2 API's spelling
}

// Target is one registered target: an IP address (or host name) and a port.
type Target struct {
	Id   string `yaml:"Id"` //nolint:revive // the ELBv2 API's spelling
	Port int    `yaml:"Port"`
}

// Mutual authentication modes.
const (
	ModeOff         = "off"
	ModePassthrough = "passthrough"
	ModeVerify      = "verify"
)

// ReadFile reads a YAML configuration. Unknown keys are errors (a typo must not silently turn
// verification off), and relative file names are resolved against the file's directory.
func ReadFile(path string) (Config, error) {
	b, err := regularfile.Read(path, regularfile.MaxConfig)
	if err != nil {
		return Config{}, fmt.Errorf("read ALB config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("ALB config %q: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("ALB config %q: %w", path, err)
	}
	cfg.resolve(abs)
	return cfg, nil
}

// Parse decodes a YAML configuration, refusing unknown keys.
func Parse(b []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("parse YAML: %w (keys are the ELBv2 API's names: Listeners, TrustStores, TargetGroups, ConnectionLogs)", err)
	}
	return cfg, nil
}

// Marshal renders the configuration as YAML, for harnesses that hand it to a process.
func (c Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Files lists every file the configuration reads, so a runner can reload when one changes.
func (c Config) Files() []string {
	var out []string
	for _, f := range c.FileFields() {
		if f.Name != "ConnectionLogs.Path" {
			out = append(out, *f.Path)
		}
	}
	return out
}

// FileField is one field of the configuration that names a file: its name for error messages
// and a pointer to the path, so a runner can resolve or confine it.
type FileField struct {
	Name string
	Path *string
}

// FileFields lists every field that names a file: certificates, keys, CA bundles, CRLs (read)
// and the connection log (written).
func (c *Config) FileFields() []FileField {
	var out []FileField
	for i := range c.Listeners {
		for j := range c.Listeners[i].Certificates {
			cert := &c.Listeners[i].Certificates[j]
			out = append(out, FileField{fmt.Sprintf("Listeners[%d].Certificates[%d].CertificateFile", i, j), &cert.CertificateFile},
				FileField{fmt.Sprintf("Listeners[%d].Certificates[%d].PrivateKeyFile", i, j), &cert.PrivateKeyFile})
		}
	}
	for i := range c.TrustStores {
		ts := &c.TrustStores[i]
		out = append(out, FileField{fmt.Sprintf("TrustStores[%d].CaCertificatesBundleFile", i), &ts.CaCertificatesBundleFile})
		for j := range ts.RevocationContents {
			out = append(out, FileField{fmt.Sprintf("TrustStores[%d].RevocationContents[%d].File", i, j), &ts.RevocationContents[j].File})
		}
	}
	return append(out, FileField{"ConnectionLogs.Path", &c.ConnectionLogs.Path})
}

func (c *Config) resolve(dir string) {
	for _, f := range c.FileFields() {
		if *f.Path != "" && !filepath.IsAbs(*f.Path) {
			*f.Path = filepath.Join(dir, *f.Path)
		}
	}
}

// NormalizedMode is the listener's mode (off, passthrough or verify; off when unset), or an
// error naming the field at where. Renderers read the mode with it.
func (m MutualAuthentication) NormalizedMode(where string) (string, error) {
	switch strings.ToLower(m.Mode) {
	case "", ModeOff:
		return ModeOff, nil
	case ModePassthrough:
		return ModePassthrough, nil
	case ModeVerify:
		return ModeVerify, nil
	}
	return "", fmt.Errorf("%s.MutualAuthentication.Mode %q: use off, passthrough or verify", where, m.Mode)
}

// AdvertisesCANames reads AdvertiseTrustStoreCaNames (on or off, off when unset), or an error
// naming the field at where.
func (m MutualAuthentication) AdvertisesCANames(where string) (bool, error) {
	switch strings.ToLower(m.AdvertiseTrustStoreCaNames) {
	case "", "off":
		return false, nil
	case "on":
		return true, nil
	}
	return false, fmt.Errorf("%s.MutualAuthentication.AdvertiseTrustStoreCaNames %q: use on or off", where, m.AdvertiseTrustStoreCaNames)
}
