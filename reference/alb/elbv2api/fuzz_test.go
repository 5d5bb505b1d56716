package elbv2api_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlsgate/mtlsgate/reference/alb/elbv2api"
)

// FuzzQueryAPI sends arbitrary Query API forms (any action, any parameters: page sizes, markers,
// ARNs, tags) to the ELBv2 endpoint: none may crash it or answer 5xx, and a refused call must
// leave every resource as it was (what the Describe calls and DescribeTags answer).
func FuzzQueryAPI(f *testing.F) {
	for _, seed := range []string{
		"Action=DescribeLoadBalancers&PageSize=0", // no Version
		"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=0",
		"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=401",
		"Action=DescribeTargetGroups&Version=2015-12-01&PageSize=1&Marker=bXRsc2dhdGUtb2Zmc2V0Oi0x",
		"Action=DescribeTargetGroups&Version=2015-12-01&Marker=bXRsc2dhdGUtb2Zmc2V0Ojk5OTk5OTk5OTk5OTk5OTk5OTk5",
		"Action=DescribeTargetGroups&Version=2015-12-01&Marker=%25%25",
		"Action=DescribeListeners&Version=2015-12-01&ListenerArns.member.1=nope",
		"Action=DescribeListeners&Version=2015-12-01&LoadBalancerArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0",
		"Action=AddTags&Version=2015-12-01&ResourceArns.member.1=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0&Tags.member.1.Key=a&Tags.member.2.Key=a",
		"Action=RemoveTags&Version=2015-12-01&ResourceArns.member.1=x&TagKeys.member.1=a",
		"Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1=",
		"Action=CreateTrustStore&Version=2015-12-01&Name=a--b&CaCertificatesBundleS3Bucket=b&CaCertificatesBundleS3Key=k",
		"Action=DeleteSharedTrustStoreAssociation&Version=2015-12-01&TrustStoreArn=x&ResourceArn=y",
		"Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Protocol=HTTP&Port=0&VpcId=vpc-1",
		"Action=DescribeSSLPolicies&Version=2015-12-01&Names.member.1=ELBSecurityPolicy-2015-05&PageSize=1",
		"Action=ModifyLoadBalancerAttributes&Version=2015-12-01&Attributes.member.1.Key=idle_timeout.timeout_seconds&Attributes.member.1.Value=-1",
	} {
		f.Add(seed)
	}
	srv, err := elbv2api.New(f.Context(), elbv2api.Options{StateDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close(f.Context()) })
	call := func(form string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	// The request ID differs per answer; the rest of a Describe answer is the state.
	requestID := regexp.MustCompile(`<RequestId>[^<]*</RequestId>`)
	state := func() string {
		var b strings.Builder
		for _, action := range []string{"DescribeLoadBalancers", "DescribeTargetGroups", "DescribeTrustStores", "DescribeSSLPolicies"} {
			_, body := call("Action=" + action + "&Version=2015-12-01")
			b.WriteString(requestID.ReplaceAllString(body, ""))
		}
		return b.String()
	}
	if code, body := call("Action=CreateTargetGroup&Version=2015-12-01&Version=2015-12-01&Name=seeded&Protocol=HTTP&Port=80&VpcId=vpc-1"); code != http.StatusOK {
		f.Fatalf("create the seed target group: %d %s", code, body)
	}
	if !strings.Contains(state(), "<TargetGroupName>seeded</TargetGroupName>") {
		f.Fatalf("the state the fuzz compares does not show the seeded target group:\n%s", state())
	}
	f.Fuzz(func(t *testing.T, form string) {
		before := state()
		code, body := call(form)
		if code >= 500 {
			t.Fatalf("form %q answered %d: %s", form, code, body)
		}
		if code >= 400 {
			if after := state(); after != before {
				t.Fatalf("form %q was refused (%d: %s) but changed the state", form, code, body)
			}
		}
	})
}
