package harness

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// TestReferenceALBIsConfiguredThroughTheAPI: the reference target builds a suite's scenario
// with ELBv2 calls, so the endpoint describes what the suite asked for, a change is a Modify call
// it shows, a refused change leaves it as it was, and the connection log comes from S3. Only a
// configuration naming ConnectionLogs.Path takes the YAML loader.
func TestReferenceALBIsConfiguredThroughTheAPI(t *testing.T) {
	ctx := t.Context()
	pki, err := fixtures.Generate(ctx, fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	off := false
	cfg := func(policy string) alb.Config {
		return alb.Config{
			Listeners: []alb.Listener{{Protocol: "HTTPS", SslPolicy: policy,
				Certificates:         []alb.Certificate{{CertificateFile: filepath.Join(dir, "server.crt"), PrivateKeyFile: filepath.Join(dir, "server.key")}},
				MutualAuthentication: alb.MutualAuthentication{Mode: alb.ModeVerify, TrustStoreArn: "clients"},
				DefaultActions:       []alb.Action{{Type: "forward", TargetGroupArn: "echo"}}}},
			TrustStores: []alb.TrustStore{{Name: "clients", CaCertificatesBundleFile: filepath.Join(dir, "ca.crt")}},
			TargetGroups: []alb.TargetGroup{{TargetGroupName: "echo", Protocol: "HTTP", HealthCheckEnabled: &off,
				Targets: []alb.Target{{Id: ALBTargetEcho}}}},
		}
	}
	sys, err := (&ReferenceTarget{}).StartALB(ctx, ALBSetup{PKI: pki, Config: cfg("ELBSecurityPolicy-TLS13-1-3-2021-06")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop(context.Background()) })
	if sys.connLog == nil {
		t.Fatal("the connection log is not read from the endpoint's S3")
	}
	conf := sys.configurer
	policy := func() (string, string) {
		out, err := conf.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(conf.lb)})
		if err != nil || len(out.Listeners) != 1 {
			t.Fatalf("DescribeListeners: %v %v", out, err)
		}
		l := out.Listeners[0]
		return aws.ToString(l.SslPolicy), aws.ToString(l.MutualAuthentication.TrustStoreArn)
	}
	if p, ts := policy(); p != "ELBSecurityPolicy-TLS13-1-3-2021-06" || !strings.Contains(ts, ":truststore/clients/") {
		t.Fatalf("the listener the API describes: %s with trust store %s", p, ts)
	}
	if err := sys.Apply(ctx, cfg("ELBSecurityPolicy-TLS13-1-2-2021-06")); err != nil {
		t.Fatal(err)
	}
	if p, _ := policy(); p != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Fatalf("after Apply the API describes %s", p)
	}
	if err := sys.Apply(ctx, cfg("ELBSecurityPolicy-Nope")); err == nil || !strings.Contains(err.Error(), "SSLPolicyNotFound") {
		t.Fatalf("an unknown policy: %v, want the API's SSLPolicyNotFound", err)
	}
	if p, _ := policy(); p != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Fatalf("after a refused Apply the API describes %s", p)
	}

	withFile := cfg("")
	withFile.ConnectionLogs.Path = filepath.Join(t.TempDir(), "conn.log")
	if err := sys.Apply(ctx, withFile); err == nil || !strings.Contains(err.Error(), "ConnectionLogs.Path") {
		t.Fatalf("ConnectionLogs.Path through the API: %v, want a refusal naming it", err)
	}
	yamlSys, err := (&ReferenceTarget{}).StartALB(ctx, ALBSetup{PKI: pki, Config: withFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = yamlSys.Stop(context.Background()) })
	if yamlSys.configurer != nil {
		t.Fatal("a configuration naming ConnectionLogs.Path went through the API")
	}
}
