// Package controlapi is the HTTP plumbing of the reference servers' control APIs (serve alb and
// serve apigw --status-listen): the readiness path every one answers, and one call with its
// error as the server states it. The typed clients live in reference/alb and reference/apigw.
package controlapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PathReady answers 200 once the server is up; it needs no token.
const PathReady = "/status/ready"

// MaxAnswer bounds an answer a client reads.
const MaxAnswer = 16 << 20

// Client calls one control API.
type Client struct {
	// Base is the control API's base URL, e.g. http://127.0.0.1:8100.
	Base string
	// HTTP makes the calls (its timeout bounds each); nil means http.DefaultClient.
	HTTP *http.Client
	// Token, when set, is sent as Authorization: Bearer (serve … --status-token).
	Token string
}

// Do sends one call and returns the body of a 2xx answer; any other answer returns the server's
// text as the error (the server's own words, naming the field).
func (c *Client) Do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	resp, err := c.Open(ctx, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	b, err := io.ReadAll(io.LimitReader(resp, MaxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return b, nil
}

// Open sends one call and returns the body of a 2xx answer as a stream, for answers that last
// (a followed log); the caller closes it.
func (c *Client) Open(ctx context.Context, method, path, contentType string, body []byte) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
		return nil, errors.New(strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}
