package harness

import (
	"context"

	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/internal/version"
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

// ALBAPISystem is an AWS endpoint the suite configures an ALB through: the reference's, with
// nothing created on it yet, or AWS's (or an emulator's) with the resources a user named.
type ALBAPISystem struct {
	// Version names the load balancer in the conformance report.
	Version string
	// AWS is what the SDK clients take: region, credentials and, for an emulator, its endpoint.
	AWS aws.Config
	// Endpoint is the endpoint's base URL when it is not AWS's own ("" for AWS); S3 is then
	// addressed path-style.
	Endpoint string
	// ListenerHost is where listeners created through the API are reached.
	ListenerHost string
	// EchoHost and EchoPort are the plain-HTTP echo, as a target group registers it.
	EchoHost string
	EchoPort int
	// Named, for an ALB someone else runs, are the only resources the specs may change; nil
	// means the specs create what they need.
	Named *ALBNamed

	stop func(context.Context) error
}

// ALBNamed are the resources of an ALB the user lets the suite change.
type ALBNamed struct {
	ListenerArn, TrustStoreArn, Bucket string
	// ListenerURL is what the clients request.
	ListenerURL string
	// Echo says the listener forwards to mtlsgate's echo, so the target's view can be checked.
	Echo bool
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
	api, err := elbv2api.New(ctx, elbv2api.Options{})
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
	return &ALBAPISystem{Version: "mtlsgate " + version.Version + " (ELBv2 API)", Endpoint: srv.URL, ListenerHost: "127.0.0.1",
		AWS:      aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		EchoHost: host, EchoPort: port, stop: closers.run}, nil
}
