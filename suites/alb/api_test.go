package alb_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mtlsgate/mtlsgate/catalog"
	"github.com/mtlsgate/mtlsgate/conformance"
	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/harness"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/suites/framework"
)

// apiALB is an ALB configured through the ELBv2 API with the SDK: the seed story's resources.
type apiALB struct {
	sys                *harness.ALBAPISystem
	elb                *elb.Client
	s3                 *s3.Client
	acm                *acm.Client
	bucket             string
	tg, lb, ts, cert   string
	listener, url      string
	echo               bool  // the listener forwards to mtlsgate's echo
	createTrustStoreEr error // the refusal of the bad root's bundle
}

// key is where the suite's object f goes in the bucket.
func (a *apiALB) key(f string) *string { return aws.String("mtlsgate/" + f) }

// startAPI starts the target's AWS endpoint and builds the seed story on it through the SDK: the
// CA bundles and CRL in S3, then either (an ALB of the user's) the named trust store pointed at
// the bundle, the bad root's first, and the named listener put in verify mode, or (the reference)
// an imported certificate, a target group with matcher 403, a load balancer, the trust store (the
// bad root first) and a verify-mode listener; always on ELBSecurityPolicy-TLS13-1-3-2021-06.
func startAPI(ctx context.Context) *apiALB {
	apiTarget, isAPI := target.(harness.ALBAPITarget)
	Expect(isAPI).To(BeTrue(), "target %s claims A-API-1 but cannot start an ELBv2 endpoint", target.Name())
	sys, err := apiTarget.StartALBAPI(ctx, harness.ALBAPISetup{PKI: pki})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sys.Stop)
	AddReportEntry(conformance.TargetVersionEntry, sys.Version, ReportEntryVisibilityFailureOrVerbose)
	a := &apiALB{sys: sys, elb: elb.NewFromConfig(sys.AWS), acm: acm.NewFromConfig(sys.AWS), bucket: "pki",
		s3: s3.NewFromConfig(sys.AWS, func(o *s3.Options) { o.UsePathStyle = sys.Endpoint != "" })}
	if sys.Named != nil {
		a.bucket = sys.Named.Bucket
	} else {
		_, err = a.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &a.bucket})
		Expect(err).NotTo(HaveOccurred())
	}
	for _, f := range []string{"ca.crt", "not-a-ca.crt", "crl.pem"} {
		b, err := os.ReadFile(pkiFile(f))
		Expect(err).NotTo(HaveOccurred())
		_, err = a.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &a.bucket, Key: a.key(f), Body: bytes.NewReader(b)})
		Expect(err).NotTo(HaveOccurred(), "PutObject %s", f)
	}
	if sys.Named != nil {
		a.startNamed(ctx)
		a.certified()
		return a
	}
	a.echo = true
	certPEM, err := os.ReadFile(pkiFile("server.crt"))
	Expect(err).NotTo(HaveOccurred())
	keyPEM, err := os.ReadFile(pkiFile("server.key"))
	Expect(err).NotTo(HaveOccurred())
	imp, err := a.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})
	Expect(err).NotTo(HaveOccurred())
	a.cert = *imp.CertificateArn

	tg, err := a.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("echo"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(int32(sys.EchoPort)), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/status/403"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2),
		Matcher: &elbtypes.Matcher{HttpCode: aws.String("403")}})
	Expect(err).NotTo(HaveOccurred())
	a.tg = *tg.TargetGroups[0].TargetGroupArn
	_, err = a.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: &a.tg, Targets: []elbtypes.TargetDescription{{Id: &sys.EchoHost}}})
	Expect(err).NotTo(HaveOccurred())
	lb, err := a.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("mtls-demo")})
	Expect(err).NotTo(HaveOccurred())
	a.lb = *lb.LoadBalancers[0].LoadBalancerArn

	_, a.createTrustStoreEr = a.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("demo"),
		CaCertificatesBundleS3Bucket: &a.bucket, CaCertificatesBundleS3Key: a.key("not-a-ca.crt")})
	ts, err := a.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("demo"),
		CaCertificatesBundleS3Bucket: &a.bucket, CaCertificatesBundleS3Key: a.key("ca.crt")})
	Expect(err).NotTo(HaveOccurred())
	a.ts = *ts.TrustStores[0].TrustStoreArn

	port := freeListenerPort()
	l, err := a.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &a.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(port), SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-3-2021-06"),
		Certificates:         []elbtypes.Certificate{{CertificateArn: &a.cert}},
		DefaultActions:       []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &a.tg}},
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &a.ts}})
	Expect(err).NotTo(HaveOccurred())
	a.listener = *l.Listeners[0].ListenerArn
	a.url = "https://" + net.JoinHostPort(sys.ListenerHost, strconv.Itoa(int(port))) + "/anything"
	return a
}

// startNamed removes the user's trust store's revocations, points it at the suite's bundle (the
// bad root's first, which must be refused), and puts the user's listener in verify mode on
// ELBSecurityPolicy-TLS13-1-3-2021-06 with it. Nothing else is changed.
func (a *apiALB) startNamed(ctx context.Context) {
	n := a.sys.Named
	a.ts, a.listener, a.url, a.echo = n.TrustStoreArn, n.ListenerArn, n.ListenerURL, n.Echo
	// The trust store's revocation lists go first: they may be issued by CAs the suite's bundle
	// lacks.
	revs, err := a.elb.DescribeTrustStoreRevocations(ctx, &elb.DescribeTrustStoreRevocationsInput{TrustStoreArn: &a.ts})
	Expect(err).NotTo(HaveOccurred())
	var ids []int64
	for _, r := range revs.TrustStoreRevocations {
		ids = append(ids, *r.RevocationId)
	}
	if len(ids) > 0 {
		_, err = a.elb.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: &a.ts, RevocationIds: ids})
		Expect(err).NotTo(HaveOccurred())
	}
	_, a.createTrustStoreEr = a.elb.ModifyTrustStore(ctx, &elb.ModifyTrustStoreInput{TrustStoreArn: &a.ts,
		CaCertificatesBundleS3Bucket: &a.bucket, CaCertificatesBundleS3Key: a.key("not-a-ca.crt")})
	_, err = a.elb.ModifyTrustStore(ctx, &elb.ModifyTrustStoreInput{TrustStoreArn: &a.ts,
		CaCertificatesBundleS3Bucket: &a.bucket, CaCertificatesBundleS3Key: a.key("ca.crt")})
	Expect(err).NotTo(HaveOccurred())
	_, err = a.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &a.listener, SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-3-2021-06"),
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &a.ts}})
	Expect(err).NotTo(HaveOccurred())
}

// certified names, in the conformance report, the user's resources the run certified: the region,
// the listener and trust store ARNs and, when it is not AWS's, the endpoint.
func (a *apiALB) certified() {
	for _, r := range [][2]string{{"region", a.sys.AWS.Region}, {"listener", a.listener}, {"trust store", a.ts}, {"endpoint", a.sys.Endpoint}} {
		if r[1] != "" {
			AddReportEntry(conformance.TargetResourcesEntry, r[0]+": "+r[1], ReportEntryVisibilityNever)
		}
	}
}

// addCRL adds crl.pem (revoking client-revoked) to the trust store.
func (a *apiALB) addCRL(ctx context.Context) {
	rev, err := a.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &a.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: &a.bucket, S3Key: a.key("crl.pem")}}})
	Expect(err).NotTo(HaveOccurred())
	Expect(*rev.TrustStoreRevocations[0].NumberOfRevokedEntries).To(BeEquivalentTo(1))
}

// freeListenerPort is a loopback port free right now, for a listener the API creates (the API,
// as AWS's, takes a port from 1 to 65535).
func freeListenerPort() int32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// awsCode is the AWS error code of err ("" when it is not an AWS error).
func awsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// viaAPI: these specs set up their scenario through the ELBv2 API, not the suite's configurations.
var viaAPI = conformance.ConfiguresWith(catalog.ELBv2API)

var _ = Describe("ELBv2 API", func() {
	suite.It("A-API-1", "the seed story through the SDK: the bad root is refused with ALB's message, the verify listener serves at once, a revocation applies", viaAPI, func(ctx SpecContext) {
		a := startAPI(ctx)
		Expect(awsCode(a.createTrustStoreEr)).To(Equal("InvalidCaCertificatesBundle"))
		Expect(a.createTrustStoreEr.Error()).To(ContainSubstring(alb.ErrTextNotACA))

		r := ok(ctx, client(fixtures.Client), a.url)
		Expect(r.Status).To(Equal(http.StatusOK))
		if a.echo {
			Expect(r.Echo).NotTo(BeNil(), "the listener forwards to mtlsgate's echo")
			Expect(r.Echo.Headers).To(HaveKey(alb.HeaderSubject))
		}
		refused(ctx, client(""), a.url)
		refused(ctx, client(fixtures.ClientUnknownCA), a.url)
		refused(ctx, client(fixtures.ClientExpired), a.url)
		refused(ctx, client(fixtures.Client, tls12Only), a.url)
		Expect(ok(ctx, client(fixtures.ClientRevoked), a.url).Status).To(Equal(http.StatusOK))

		a.addCRL(ctx)
		refused(ctx, client(fixtures.ClientRevoked), a.url)
		Expect(ok(ctx, client(fixtures.Client), a.url).Status).To(Equal(http.StatusOK))

		if a.sys.Named != nil {
			return // the user's trust store is never deleted, nor their target group's health awaited
		}
		_, err := a.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: &a.ts})
		Expect(awsCode(err)).To(Equal("TrustStoreInUse"))
		Eventually(func() elbtypes.TargetHealthStateEnum {
			h, err := a.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: &a.tg})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.TargetHealthDescriptions).To(HaveLen(1))
			return h.TargetHealthDescriptions[0].TargetHealth.State
		}).WithTimeout(20*time.Second).WithPolling(100*time.Millisecond).Should(Equal(elbtypes.TargetHealthStateEnumHealthy),
			"the health check of /status/403 with matcher 403 makes the target healthy")
	})

	suite.It("A-API-1", "a change applies to new connections and leaves established ones alone", viaAPI, func(ctx SpecContext) {
		a := startAPI(ctx)
		cert := pki.Get(fixtures.ClientRevoked).TLSCertificate()
		kept := framework.NewClient(framework.ClientOptions{Certificate: &cert, KeepAlive: true})
		DeferCleanup(kept.CloseIdleConnections)
		get := func() (int, bool) {
			reused := false
			r, err := framework.Get(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}), kept, a.url)
			Expect(err).NotTo(HaveOccurred())
			return r.Status, reused
		}
		status, _ := get()
		Expect(status).To(Equal(http.StatusOK))

		a.addCRL(ctx)
		status, reused := get()
		Expect(reused).To(BeTrue(), "the second request must ride the connection established before the change")
		Expect(status).To(Equal(http.StatusOK), "an established connection keeps the configuration it was accepted under")
		refused(ctx, client(fixtures.ClientRevoked), a.url)
	})

	suite.It("A-API-1", "refused calls change nothing: missing trust store or certificate, bad CRL, unknown parameter", viaAPI, func(ctx SpecContext) {
		a := startAPI(ctx)
		missing := a.ts + "0"
		_, err := a.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &a.listener,
			MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &missing}})
		Expect(awsCode(err)).To(Equal("TrustStoreNotFound"))
		if a.cert != "" {
			_, err = a.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &a.listener,
				Certificates: []elbtypes.Certificate{{CertificateArn: aws.String(a.cert + "0")}}})
			Expect(awsCode(err)).To(Equal("CertificateNotFound"))
		}
		_, err = a.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &a.ts,
			RevocationContents: []elbtypes.RevocationContent{{S3Bucket: &a.bucket, S3Key: a.key("not-a-ca.crt")}}})
		Expect(awsCode(err)).To(Equal("InvalidRevocationContent"))
		if a.sys.Endpoint != "" {
			resp, err := http.Post(a.sys.Endpoint, "application/x-www-form-urlencoded",
				bytes.NewReader([]byte("Action=ModifyListener&Version=2015-12-01&ListenerArn="+a.listener+"&SslPolicy=ELBSecurityPolicy-TLS13-1-2-2021-06&Colour=blue")))
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(And(BeNumerically(">=", 400), BeNumerically("<", 500)), "an unknown parameter")
		}

		ls, err := a.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{a.listener}})
		Expect(err).NotTo(HaveOccurred())
		Expect(*ls.Listeners[0].SslPolicy).To(Equal("ELBSecurityPolicy-TLS13-1-3-2021-06"))
		Expect(*ls.Listeners[0].MutualAuthentication.TrustStoreArn).To(Equal(a.ts))
		refused(ctx, client(fixtures.Client, tls12Only), a.url)
		Expect(ok(ctx, client(fixtures.ClientRevoked), a.url).Status).To(Equal(http.StatusOK))
	})
})
