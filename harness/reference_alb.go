package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mtlsgate/mtlsgate/internal/version"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/alb/elbv2api"
)

// StartALB starts the echo upstream, the API Gateway stand-in and the ALB emulator on loopback
// ports, the emulator writing its connection log to memory. The emulator is configured as a user
// configures an ALB: through its ELBv2 endpoint (with S3 and ACM) with the AWS SDK, each Apply
// becoming the Modify calls it needs. A configuration with a setting the API cannot express
// (yamlOnly) is loaded through reference/alb's YAML types instead.
func (t *ReferenceTarget) StartALB(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	if setup.PKI == nil {
		return nil, errors.New("start reference alb: ALBSetup.PKI is required")
	}
	if yamlOnly(setup.Config) == nil {
		return startALBThroughAPI(ctx, setup)
	}
	var closers cleanups
	stop := closers.run
	fail := func(err error) (*ALBSystem, error) {
		_ = stop(context.Background())
		return nil, fmt.Errorf("start reference alb: %w", err)
	}
	sys, err := startALBUpstreams(ctx, setup, &closers)
	if err != nil {
		return fail(err)
	}
	sys.Version = "mtlsgate " + version.Version
	lb, err := alb.Start(ctx, sys.Resolve(setup.Config), alb.Options{ConnectionLog: sys.log})
	if err != nil {
		return fail(err)
	}
	closers.add(lb.Close)
	sys.ListenerURLs = lb.URLs()
	sys.ClientIP = "127.0.0.1"
	for _, u := range sys.ListenerURLs {
		sys.ListenerPorts = append(sys.ListenerPorts, u[strings.LastIndexByte(u, ':')+1:])
	}
	sys.apply = lb.Reload
	sys.health = lb.TargetHealth
	sys.stop = stop
	return sys, nil
}

// startALBThroughAPI runs the reference's AWS endpoint in-process and builds setup.Config on it
// with the SDK (elbv2Configurer).
func startALBThroughAPI(ctx context.Context, setup ALBSetup) (*ALBSystem, error) {
	var closers cleanups
	fail := func(err error) (*ALBSystem, error) {
		_ = closers.run(context.Background())
		return nil, fmt.Errorf("start reference alb through the ELBv2 API: %w", err)
	}
	sys, err := startALBUpstreams(ctx, setup, &closers)
	if err != nil {
		return fail(err)
	}
	sys.Version = "mtlsgate " + version.Version
	api, err := elbv2api.New(ctx, elbv2api.Options{HealthCheckSecond: albHealthCheckSecond, ConnectionLogInterval: albConnLogInterval})
	if err != nil {
		return fail(err)
	}
	closers.add(api.Close)
	srv := httptest.NewServer(api)
	closers.add(func(context.Context) error { srv.Close(); return nil })
	conf, err := newELBv2Configurer(ctx, aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, setup.Config.LoadBalancerName)
	if err != nil {
		return fail(err)
	}
	if err := conf.Apply(ctx, sys.Resolve(setup.Config)); err != nil {
		return fail(err)
	}
	sys.ClientIP = "127.0.0.1"
	for _, p := range conf.ports {
		sys.ListenerURLs = append(sys.ListenerURLs, "https://127.0.0.1:"+strconv.Itoa(p))
		sys.ListenerPorts = append(sys.ListenerPorts, strconv.Itoa(p))
	}
	sys.apply = func(ctx context.Context, cfg alb.Config) error {
		if err := yamlOnly(cfg); err != nil {
			return fmt.Errorf("apply through the ELBv2 API: %w", err)
		}
		return conf.Apply(ctx, cfg)
	}
	sys.health = func(group string) ([]alb.TargetHealth, error) { return conf.TargetHealth(context.Background(), group) }
	// The connection log is read from the endpoint's S3, where the load balancer writes it. A
	// failed read leaves the lines read so far: a spec waiting for its line names the gap.
	sys.connLog = func() []string {
		lines, _ := conf.ConnectionLog(context.Background())
		return lines
	}
	sys.configurer = conf
	sys.stop = closers.run
	return sys, nil
}
