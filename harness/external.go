package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/kongapi"
)

// Environment variables of the external target. MTLSGATE_EXTERNAL names a YAML file; the others
// override its fields one by one, so CI can point a stock file at another gateway.
const (
	ExternalConfigEnv     = "MTLSGATE_EXTERNAL"
	ExternalProxyEnv      = "MTLSGATE_EXTERNAL_PROXY_URL"
	ExternalProxyTLSEnv   = "MTLSGATE_EXTERNAL_PROXY_TLS_URL"
	ExternalAdminEnv      = "MTLSGATE_EXTERNAL_ADMIN_URL"
	ExternalAllowResetEnv = "MTLSGATE_EXTERNAL_ALLOW_RESET"
	ExternalClientCertEnv = "MTLSGATE_EXTERNAL_CLIENT_CERT"
	ExternalClientKeyEnv  = "MTLSGATE_EXTERNAL_CLIENT_KEY"
	ExternalPathEnv       = "MTLSGATE_EXTERNAL_PATH"
)

// ExternalConfig describes a gateway someone else runs: where its listeners are and, for the
// black-box specs, a route and a certificate it accepts. Paths are relative to the YAML file.
type ExternalConfig struct {
	// Profile is the profile the gateway implements; only "kong" is supported for now.
	Profile string `yaml:"profile"`
	// Version names the gateway in the conformance report ("kong 3.10 staging").
	Version string `yaml:"version"`
	// Product is the token the gateway announces in Via and Server ("kong/3.10.0.0"); with
	// admin_url it defaults to the Admin API's own Server header.
	Product     string `yaml:"product"`
	ProxyURL    string `yaml:"proxy_url"`
	ProxyTLSURL string `yaml:"proxy_tls_url"`
	// AdminURL enables the specs that configure their own scenario. They delete every entity
	// before each spec, so AllowReset must say yes too.
	AdminURL   string `yaml:"admin_url"`
	AllowReset bool   `yaml:"allow_reset"`
	// ALB describes an ALB (profile: alb), certified black-box: its listener and the client
	// certificates it must accept or refuse.
	ALB ExternalALB `yaml:"alb"`
	// BlackBox is a route protected by mtls-auth and a certificate the gateway accepts.
	BlackBox struct {
		Path       string `yaml:"path"`
		ClientCert string `yaml:"client_cert"`
		ClientKey  string `yaml:"client_key"`
	} `yaml:"blackbox"`
}

// LoadExternalConfig reads the external target's configuration from MTLSGATE_EXTERNAL and the
// MTLSGATE_EXTERNAL_* overrides, and checks it.
func LoadExternalConfig(getenv func(string) string) (*ExternalConfig, error) {
	c := &ExternalConfig{Profile: "kong"}
	if path := getenv(ExternalConfigEnv); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read external target config %s=%q: %w", ExternalConfigEnv, path, err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("parse external target config %q: %w", path, err)
		}
		// File paths in the YAML are relative to it; those from the environment to the caller.
		for _, f := range append([]*string{&c.BlackBox.ClientCert, &c.BlackBox.ClientKey}, c.ALB.files()...) {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(filepath.Dir(path), *f)
			}
		}
	}
	for env, field := range map[string]*string{
		ExternalProxyEnv: &c.ProxyURL, ExternalProxyTLSEnv: &c.ProxyTLSURL, ExternalAdminEnv: &c.AdminURL,
		ExternalClientCertEnv: &c.BlackBox.ClientCert, ExternalClientKeyEnv: &c.BlackBox.ClientKey, ExternalPathEnv: &c.BlackBox.Path,
	} {
		if v := getenv(env); v != "" {
			*field = v
		}
	}
	if v := getenv(ExternalAllowResetEnv); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want true or false", ExternalAllowResetEnv, v)
		}
		c.AllowReset = b
	}
	return c, c.validate()
}

func (c *ExternalConfig) validate() error {
	if c.Profile == string(catalog.ALB) {
		return c.ALB.validate()
	}
	if c.Profile != string(catalog.Kong) {
		return fmt.Errorf("external target: profile %q is not supported: set profile: kong or profile: alb", c.Profile)
	}
	if c.ProxyURL == "" && c.ProxyTLSURL == "" {
		return fmt.Errorf("external target: proxy_tls_url is required (or %s): the gateway's TLS proxy listener, e.g. https://127.0.0.1:8443", ExternalProxyTLSEnv)
	}
	for name, u := range map[string]string{"proxy_url": c.ProxyURL, "proxy_tls_url": c.ProxyTLSURL, "admin_url": c.AdminURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return fmt.Errorf("external target: %s %q is not an http(s) URL with a host, e.g. https://127.0.0.1:8443", name, u)
		}
	}
	if c.AdminURL != "" && !c.AllowReset {
		return fmt.Errorf("external target: admin_url is set but allow_reset is not: the specs delete every entity of %s before each spec; set allow_reset: true (or %s=true) only for a gateway you may wipe, or remove admin_url to run the black-box specs alone", c.AdminURL, ExternalAllowResetEnv)
	}
	bb := c.BlackBox
	if (bb.ClientCert == "") != (bb.ClientKey == "") {
		return errors.New("external target: blackbox.client_cert and blackbox.client_key go together: give both or neither")
	}
	if c.AdminURL == "" && (bb.ClientCert == "" || bb.Path == "") {
		return fmt.Errorf("external target: without admin_url, blackbox.path, blackbox.client_cert and blackbox.client_key are required (a route protected by mtls-auth and a certificate the gateway accepts; or %s, %s, %s)", ExternalPathEnv, ExternalClientCertEnv, ExternalClientKeyEnv)
	}
	return nil
}

// blackBoxIDs are the Kong behaviours the black-box specs check without an Admin API.
var blackBoxIDs = []catalog.ID{"K-MTLS-1", "K-MTLS-2"}

// ExternalTarget is a gateway someone else started, described by MTLSGATE_EXTERNAL: the suites
// only send it traffic (and, with admin_url, Admin API calls), and never start or stop it.
type ExternalTarget struct {
	once sync.Once
	conf *ExternalConfig
	err  error
}

func (t *ExternalTarget) config() (*ExternalConfig, error) {
	t.once.Do(func() { t.conf, t.err = LoadExternalConfig(os.Getenv) })
	return t.conf, t.err
}

// Name implements Target.
func (*ExternalTarget) Name() string { return "external" }

// Claims implements Target: Kong's own behaviours (kongOwnBehaviours, not mtlsgate's rules) with
// an Admin API, the black-box ones without.
func (t *ExternalTarget) Claims(id catalog.ID) (bool, string) { return t.claims(catalog.Lookup, id) }

func (t *ExternalTarget) claims(lookup lookupFunc, id catalog.ID) (bool, string) {
	c, err := t.config()
	if err != nil {
		return false, err.Error()
	}
	if c.Profile == string(catalog.ALB) {
		return c.ALB.claims(id)
	}
	if b, ok := lookup(id); ok && b.Profile != catalog.Kong {
		return false, "the external target with the kong profile implements the kong profile only (profile: alb certifies an ALB)"
	}
	if ok, why := allowList(lookup, t.Name(), id, kongOwnBehaviours(), mtlsgateRules()); !ok {
		return false, why
	}
	if c.AdminURL == "" && !slices.Contains(blackBoxIDs, id) {
		return false, "no admin_url given: the specs of " + string(id) + " configure their scenario through the Admin API"
	}
	return true, ""
}

// Supports implements Target.
func (t *ExternalTarget) Supports(f catalog.Feature) (bool, string) {
	c, err := t.config()
	if err != nil {
		return false, err.Error()
	}
	switch {
	case c.Profile == string(catalog.ALB) && f == catalog.ELBv2API && c.ALB.api():
		return true, ""
	case c.Profile == string(catalog.ALB):
		return false, "the external ALB is certified black-box, and through the ELBv2 API when alb.listener_arn and its companions are given: the suite starts no scenario of its own"
	case f == catalog.KongConf:
		return false, "an external gateway's kong.conf is not mtlsgate's to change"
	case f == catalog.READMEReplay:
		return false, "the README's commands start their own gateway"
	case c.AdminURL == "":
		return false, "no admin_url given"
	}
	return true, ""
}

// StartKong implements KongTarget: it starts nothing of the gateway, only the mock upstreams on
// loopback when an Admin API lets the specs route to them.
func (t *ExternalTarget) StartKong(ctx context.Context, setup KongSetup) (*KongSystem, error) {
	c, err := t.config()
	if err != nil {
		return nil, err
	}
	if len(setup.Conf) > 0 {
		return nil, fmt.Errorf("external target: cannot apply kong.conf lines %q to a gateway mtlsgate did not start", setup.Conf)
	}
	sys := &KongSystem{Version: c.Version, Product: c.Product, ProxyURL: c.ProxyURL, ProxyTLSURL: c.ProxyTLSURL, AdminURL: c.AdminURL}
	if sys.Version == "" {
		sys.Version = "external"
	}
	if u, err := url.Parse(c.ProxyTLSURL); err == nil {
		sys.ProxyTLSListenPort = u.Port()
	}
	if bb := c.BlackBox; bb.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(bb.ClientCert, bb.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("external target: load blackbox.client_cert %q and client_key %q: %w", bb.ClientCert, bb.ClientKey, err)
		}
		path := bb.Path
		if path == "" {
			path = "/mtls"
		}
		sys.blackBox = &BlackBox{Path: path, Accepted: cert}
	}
	if c.AdminURL == "" {
		return sys, nil
	}
	sys.Admin = kongapi.New(c.AdminURL, nil)
	server, err := adminServerHeader(ctx, c.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("external target: reach the Admin API at admin_url %s: %w", c.AdminURL, err)
	}
	if sys.Product == "" {
		sys.Product = server
	}
	if setup.PKI == nil {
		return nil, errors.New("external target: KongSetup.PKI is required")
	}
	ups, err := startLocalUpstreams(ctx, setup.PKI)
	if err != nil {
		return nil, fmt.Errorf("external target: %w", err)
	}
	ups.fill(sys)
	sys.stop = ups.Close
	return sys, nil
}

// adminServerHeader is the Server header of the Admin API's root: the product token the gateway
// announces ("kong/3.10.0.0-enterprise-edition").
func adminServerHeader(ctx context.Context, adminURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(adminURL, "/")+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET / answered %s", resp.Status)
	}
	return resp.Header.Get("Server"), nil
}
