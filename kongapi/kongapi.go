// Package kongapi is a client for Kong's Admin API: the entity types under Kong's field names and
// the calls the suites make. It drives real Kong and mtlsgate's reference alike, so a spec that
// passes against one exercises the same requests against the other.
package kongapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Ref is a foreign key as Kong renders it: {"id": "…"}.
type Ref struct {
	ID string `json:"id"`
}

// CACertificate is a /ca_certificates entity.
type CACertificate struct {
	ID         string   `json:"id,omitempty"`
	Cert       string   `json:"cert"`
	CertDigest string   `json:"cert_digest,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	CreatedAt  int64    `json:"created_at,omitempty"`
	UpdatedAt  int64    `json:"updated_at,omitempty"`
}

// Certificate is a /certificates entity.
type Certificate struct {
	ID      string   `json:"id,omitempty"`
	Cert    string   `json:"cert"`
	Key     string   `json:"key"`
	CertAlt string   `json:"cert_alt,omitempty"`
	KeyAlt  string   `json:"key_alt,omitempty"`
	SNIs    []string `json:"snis,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

// Service is a /services entity. URL is the write-only shorthand.
type Service struct {
	ID                string   `json:"id,omitempty"`
	Name              string   `json:"name,omitempty"`
	URL               string   `json:"url,omitempty"`
	Protocol          string   `json:"protocol,omitempty"`
	Host              string   `json:"host,omitempty"`
	Port              int      `json:"port,omitempty"`
	Path              *string  `json:"path,omitempty"`
	ConnectTimeout    int      `json:"connect_timeout,omitempty"`
	ReadTimeout       int      `json:"read_timeout,omitempty"`
	WriteTimeout      int      `json:"write_timeout,omitempty"`
	ClientCertificate *Ref     `json:"client_certificate,omitempty"`
	TLSVerify         *bool    `json:"tls_verify,omitempty"`
	TLSVerifyDepth    *int     `json:"tls_verify_depth,omitempty"`
	CACertificates    []string `json:"ca_certificates,omitempty"`
	Enabled           *bool    `json:"enabled,omitempty"`
	Tags              []string `json:"tags,omitempty"`
}

// Route is a /routes entity.
type Route struct {
	ID           string              `json:"id,omitempty"`
	Name         string              `json:"name,omitempty"`
	Protocols    []string            `json:"protocols,omitempty"`
	Methods      []string            `json:"methods,omitempty"`
	Hosts        []string            `json:"hosts,omitempty"`
	Paths        []string            `json:"paths,omitempty"`
	Headers      map[string][]string `json:"headers,omitempty"`
	SNIs         []string            `json:"snis,omitempty"`
	StripPath    *bool               `json:"strip_path,omitempty"`
	PreserveHost *bool               `json:"preserve_host,omitempty"`
	Service      *Ref                `json:"service,omitempty"`
	Tags         []string            `json:"tags,omitempty"`
}

// Consumer is a /consumers entity.
type Consumer struct {
	ID       string   `json:"id,omitempty"`
	Username string   `json:"username,omitempty"`
	CustomID string   `json:"custom_id,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// Plugin is a /plugins entity.
type Plugin struct {
	ID        string         `json:"id,omitempty"`
	Name      string         `json:"name"`
	Config    map[string]any `json:"config,omitempty"`
	Protocols []string       `json:"protocols,omitempty"`
	Enabled   *bool          `json:"enabled,omitempty"`
	Service   *Ref           `json:"service,omitempty"`
	Route     *Ref           `json:"route,omitempty"`
	Consumer  *Ref           `json:"consumer,omitempty"`
}

// MTLSCredential is a /consumers/{c}/mtls-auth entity.
type MTLSCredential struct {
	ID            string `json:"id,omitempty"`
	SubjectName   string `json:"subject_name"`
	CACertificate *Ref   `json:"ca_certificate,omitempty"`
	Consumer      *Ref   `json:"consumer,omitempty"`
}

// Error is an Admin API error answer: Kong's {code, name, message, fields} or {message}.
type Error struct {
	Status  int            `json:"-"`
	Code    int            `json:"code"`
	Name    string         `json:"name"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields"`
	Body    string         `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("admin API %d: %s", e.Status, strings.TrimSpace(e.Body))
}

// Client calls one Admin API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the Admin API at baseURL (e.g. http://127.0.0.1:8001).
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/"), http: hc}
}

// BaseURL is the Admin API's address.
func (c *Client) BaseURL() string { return c.base }

// Do sends body as JSON (nil for none) and decodes a 2xx answer into out (nil to discard).
// Any other status is returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

// Form sends an application/x-www-form-urlencoded body, as `curl --data` does.
func (c *Client) Form(ctx context.Context, method, path string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode, Body: string(b)}
		_ = json.Unmarshal(b, e)
		return e
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

// AsError returns the Admin API error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func create[T any](ctx context.Context, c *Client, path string, in T) (*T, error) {
	var out T
	if err := c.Do(ctx, http.MethodPost, path, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateCACertificate uploads a CA certificate (PEM).
func (c *Client) CreateCACertificate(ctx context.Context, pem string) (*CACertificate, error) {
	return create(ctx, c, "/ca_certificates", CACertificate{Cert: pem})
}

// CreateCertificate creates a certificate with its key (and SNIs).
func (c *Client) CreateCertificate(ctx context.Context, cert Certificate) (*Certificate, error) {
	return create(ctx, c, "/certificates", cert)
}

// CreateService creates a service.
func (c *Client) CreateService(ctx context.Context, s Service) (*Service, error) {
	return create(ctx, c, "/services", s)
}

// CreateRoute creates a route; the route's Service names its service.
func (c *Client) CreateRoute(ctx context.Context, r Route) (*Route, error) {
	return create(ctx, c, "/routes", r)
}

// CreateConsumer creates a consumer.
func (c *Client) CreateConsumer(ctx context.Context, con Consumer) (*Consumer, error) {
	return create(ctx, c, "/consumers", con)
}

// CreatePlugin creates a plugin (global unless Service, Route or Consumer is set).
func (c *Client) CreatePlugin(ctx context.Context, p Plugin) (*Plugin, error) {
	return create(ctx, c, "/plugins", p)
}

// CreateMTLSCredential maps a certificate subject name to a consumer.
func (c *Client) CreateMTLSCredential(ctx context.Context, consumer string, cred MTLSCredential) (*MTLSCredential, error) {
	return create(ctx, c, "/consumers/"+url.PathEscape(consumer)+"/mtls-auth", cred)
}

// Patch sends a PATCH with a JSON body (nil values become JSON null) and decodes the answer.
func (c *Client) Patch(ctx context.Context, path string, patch map[string]any, out any) error {
	return c.Do(ctx, http.MethodPatch, path, patch, out)
}

// Delete deletes the entity at path.
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// List returns every entity of a collection, following pagination.
func (c *Client) List(ctx context.Context, path string) ([]map[string]any, error) {
	var all []map[string]any
	next := path
	for next != "" {
		var page struct {
			Data []map[string]any `json:"data"`
			Next *string          `json:"next"`
		}
		if err := c.Do(ctx, http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		next = ""
		if page.Next != nil {
			next = *page.Next
			if u, err := url.Parse(next); err == nil && u.IsAbs() {
				next = u.RequestURI()
			}
		}
	}
	return all, nil
}

// Info is GET /: version and configuration of the gateway.
func (c *Client) Info(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodGet, "/", nil, &out)
}

// Reset deletes every entity, dependents first, so each spec starts from an empty gateway.
func (c *Client) Reset(ctx context.Context) error {
	for _, coll := range []string{"plugins", "routes", "services", "consumers", "upstreams", "certificates", "ca_certificates"} {
		rows, err := c.List(ctx, "/"+coll)
		if err != nil {
			return fmt.Errorf("reset %s: %w", coll, err)
		}
		for _, r := range rows {
			id, _ := r["id"].(string)
			if err := c.Delete(ctx, "/"+coll+"/"+id); err != nil {
				return fmt.Errorf("reset %s: %w", coll, err)
			}
		}
	}
	return nil
}
