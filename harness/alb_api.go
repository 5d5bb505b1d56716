package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/alb/elbv2api"
)

// ReferenceOnlyALBAPI is the behaviour only the in-process reference certifies: the ELBv2 API.
const ReferenceOnlyALBAPI catalog.ID = "A-API-1"

// ALBAPITarget is a target whose ALB is configured through AWS's own API (A-API-1): an ELBv2
// endpoint with the S3 and ACM calls trust stores and listeners need.
type ALBAPITarget interface {
	Target
	StartALBAPI(ctx context.Context, setup ALBAPISetup) (*ALBAPISystem, error)
}

// ALBAPISetup is what a suite asks of an API-configured ALB.
type ALBAPISetup struct {
	PKI *fixtures.PKI
}

// ALBAPISystem is a running AWS endpoint, nothing created on it yet, and the echo a target
// group may register.
type ALBAPISystem struct {
	// Endpoint is the base URL the SDKs take as their endpoint (ELBv2, S3 and ACM alike).
	Endpoint string
	// Region is the region the endpoint's ARNs name.
	Region string
	// ListenerHost is where listeners created through the API are reached.
	ListenerHost string
	// EchoHost and EchoPort are the plain-HTTP echo, as a target group registers it.
	EchoHost string
	EchoPort int
	// ConnectionLog is the connection log of every listener created through the API.
	ConnectionLog *LineBuffer

	stop func(context.Context) error
}

// Stop stops the endpoint, its listeners and the echo.
func (s *ALBAPISystem) Stop(ctx context.Context) error { return s.stop(ctx) }

// StartALBAPI runs the reference's AWS endpoint in-process with the echo behind it.
func (t *ReferenceTarget) StartALBAPI(ctx context.Context, setup ALBAPISetup) (*ALBAPISystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference ELBv2 API: ALBAPISetup.PKI is required")
	}
	var closers cleanups
	fail := func(err error) (*ALBAPISystem, error) {
		_ = closers.run(context.Background())
		return nil, fmt.Errorf("start reference ELBv2 API: %w", err)
	}
	ups, err := startALBUpstreams(ctx, ALBSetup{PKI: setup.PKI}, &closers)
	if err != nil {
		return fail(err)
	}
	log := &LineBuffer{}
	api, err := elbv2api.New(ctx, elbv2api.Options{ALB: alb.Options{ConnectionLog: log}})
	if err != nil {
		return fail(err)
	}
	closers.add(api.Close)
	srv := httptest.NewServer(http.Handler(api))
	closers.add(func(context.Context) error { srv.Close(); return nil })
	host, portText, err := net.SplitHostPort(hostPort(ups.EchoURL))
	if err != nil {
		return fail(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fail(err)
	}
	return &ALBAPISystem{Endpoint: srv.URL, Region: "us-east-1", ListenerHost: "127.0.0.1", EchoHost: host, EchoPort: port,
		ConnectionLog: log, stop: closers.run}, nil
}
