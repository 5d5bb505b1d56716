package elbv2api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mtlsgate/mtlsgate/fixtures"
	"github.com/mtlsgate/mtlsgate/reference/alb"
	"github.com/mtlsgate/mtlsgate/reference/alb/elbv2api"
	"github.com/mtlsgate/mtlsgate/reference/upstream"
)

// env is one endpoint with its PKI, an echo target and SDK clients pointed at it.
type env struct {
	t     *testing.T
	pki   *fixtures.PKI
	dir   string
	state string
	echo  *upstream.Server
	srv   *elbv2api.Server
	http  *httptest.Server
	elb   *elb.Client
	s3    *s3.Client
	acm   *acm.Client
	creds *elbv2api.Credentials
	// published has a value once a connection-log object has been written since it was last
	// taken (coalesced: one pending signal stands for any number of publishes).
	published chan struct{}
}

var pkiOnce = sync.OnceValues(func() (*fixtures.PKI, error) {
	return fixtures.Generate(context.Background(), fixtures.Options{})
})

func newEnv(t *testing.T, creds *elbv2api.Credentials) *env {
	t.Helper()
	pki, err := pkiOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	echo, err := upstream.Start(t.Context(), upstream.Config{HTTPAddr: "127.0.0.1:0", Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close(context.Background()) })
	e := &env{t: t, pki: pki, dir: dir, state: t.TempDir(), echo: echo, creds: creds, published: make(chan struct{}, 1)}
	e.start()
	return e
}

// start runs the endpoint on the env's state directory and points the clients at it.
func (e *env) start() {
	// Connection logs are published every 50 ms instead of ALB's 5 minutes.
	srv, err := elbv2api.New(e.t.Context(), elbv2api.Options{StateDir: e.state, Credentials: e.creds, ConnectionLogInterval: 50 * time.Millisecond,
		ConnectionLogPublished: func(string, string) {
			select {
			case e.published <- struct{}{}:
			default: // a signal is already pending
			}
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv)
	e.t.Cleanup(e.stop)
	key, secret := "AKIDANY", "any-secret"
	if e.creds != nil {
		key, secret = e.creds.AccessKeyID, e.creds.SecretAccessKey
	}
	e.clients(key, secret)
}

func (e *env) clients(key, secret string) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), BaseEndpoint: aws.String(e.http.URL)}
	e.elb = elb.NewFromConfig(cfg)
	e.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	e.acm = acm.NewFromConfig(cfg)
}

func (e *env) stop() {
	if e.http != nil {
		e.http.Close()
		_ = e.srv.Close(context.Background())
		e.http = nil
	}
}

func (e *env) file(name string) []byte {
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) put(key, file string) {
	e.t.Helper()
	_, err := e.s3.PutObject(e.t.Context(), &s3.PutObjectInput{Bucket: aws.String("pki"), Key: aws.String(key), Body: bytes.NewReader(e.file(file))})
	if err != nil {
		e.t.Fatalf("PutObject %s: %v", key, err)
	}
}

func freePort(t *testing.T) int32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func echoPort(t *testing.T, echo *upstream.Server) int32 {
	u, err := url.Parse(echo.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return int32(p)
}

// wantCode fails unless err is the AWS error code.
func wantCode(t *testing.T, err error, code string) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want AWS error %s, got %v", code, err)
	}
	return ae.ErrorMessage()
}

// story is the seed story through the SDK: bucket, bundle, certificate, target group, load
// balancer, trust store (bad root first) and a verify-mode listener.
type story struct {
	tg, lb, ts, cert, listener string
	port                       int32
}

func (e *env) story() story {
	t, ctx := e.t, e.t.Context()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pki")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	e.put("ca.crt", "ca.crt")
	e.put("not-a-ca.crt", "not-a-ca.crt")
	e.put("crl.pem", "crl.pem")
	imp, err := e.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: e.file("server.crt"), PrivateKey: e.file("server.key")})
	if err != nil {
		t.Fatalf("ImportCertificate: %v", err)
	}
	tg, err := e.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("echo"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(echoPort(t, e.echo)), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/status/403"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2), Matcher: &elbtypes.Matcher{HttpCode: aws.String("403")}})
	if err != nil {
		t.Fatalf("CreateTargetGroup: %v", err)
	}
	tgArn := *tg.TargetGroups[0].TargetGroupArn
	if _, err := e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: &tgArn,
		Targets: []elbtypes.TargetDescription{{Id: aws.String("127.0.0.1")}}}); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	lb, err := e.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("mtls-demo")})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	_, err = e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("demo"), CaCertificatesBundleS3Bucket: aws.String("pki"),
		CaCertificatesBundleS3Key: aws.String("not-a-ca.crt")})
	if msg := wantCode(t, err, "InvalidCaCertificatesBundle"); !strings.Contains(msg, alb.ErrTextNotACA) {
		t.Fatalf("bad root: message %q lacks ALB's %q", msg, alb.ErrTextNotACA)
	}
	ts, err := e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("demo"), CaCertificatesBundleS3Bucket: aws.String("pki"),
		CaCertificatesBundleS3Key: aws.String("ca.crt")})
	if err != nil {
		t.Fatalf("CreateTrustStore: %v", err)
	}
	if n := *ts.TrustStores[0].NumberOfCaCertificates; n != 1 {
		t.Fatalf("NumberOfCaCertificates = %d, want 1", n)
	}
	port := freePort(t)
	l, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttps, Port: aws.Int32(port), SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-3-2021-06"),
		Certificates:   []elbtypes.Certificate{{CertificateArn: imp.CertificateArn}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &tgArn}},
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"),
			TrustStoreArn: ts.TrustStores[0].TrustStoreArn}})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	return story{tg: tgArn, lb: *lb.LoadBalancers[0].LoadBalancerArn, ts: *ts.TrustStores[0].TrustStoreArn, cert: *imp.CertificateArn,
		listener: *l.Listeners[0].ListenerArn, port: port}
}

// get requests the listener as a client with the named identity ("" for none) and returns the
// status, the echo's view of the request headers, or the handshake's error.
func (e *env) get(port int32, identity string, maxTLS uint16) (int, map[string]any, error) {
	conf := &tls.Config{RootCAs: e.pki.Pool(fixtures.RootCA), ServerName: "localhost", MaxVersion: maxTLS}
	if identity != "" {
		conf.Certificates = []tls.Certificate{e.pki.Get(identity).TLSCertificate()}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(int(port)) + "/anything")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Headers map[string]any `json:"headers"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body.Headers, nil
}

func TestSeedStoryThroughTheSDK(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()

	if code, hdr, err := e.get(st.port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client: %d %v", code, err)
	} else if hdr[alb.HeaderSubject] == nil {
		t.Fatalf("the target saw no %s: %v", alb.HeaderSubject, hdr)
	}
	if _, _, err := e.get(st.port, "", 0); err == nil {
		t.Fatal("no client certificate: the handshake succeeded in verify mode")
	}
	if _, _, err := e.get(st.port, fixtures.Client, tls.VersionTLS12); err == nil {
		t.Fatal("TLS 1.2 client: the handshake succeeded on ELBSecurityPolicy-TLS13-1-3-2021-06")
	}
	if code, _, err := e.get(st.port, fixtures.ClientRevoked, 0); err != nil || code != 200 {
		t.Fatalf("revoked client before the CRL is added: %d %v", code, err)
	}
	rev, err := e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem")}}})
	if err != nil {
		t.Fatalf("AddTrustStoreRevocations: %v", err)
	}
	if r := rev.TrustStoreRevocations[0]; *r.RevocationId != 1 || *r.NumberOfRevokedEntries != 1 {
		t.Fatalf("revocation: id %d entries %d, want 1 and 1", *r.RevocationId, *r.NumberOfRevokedEntries)
	}
	if _, _, err := e.get(st.port, fixtures.ClientRevoked, 0); err == nil {
		t.Fatal("revoked client: the handshake succeeded after AddTrustStoreRevocations")
	}
	if code, _, err := e.get(st.port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client after the CRL: %d %v", code, err)
	}

	// Describe calls answer what was created.
	ls, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: &st.lb})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("DescribeListeners: %v %v", ls, err)
	}
	if ma := ls.Listeners[0].MutualAuthentication; *ma.Mode != "verify" || *ma.TrustStoreArn != st.ts {
		t.Fatalf("MutualAuthentication = %+v", ma)
	}
	dts, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{TrustStoreArns: []string{st.ts}})
	if err != nil || *dts.TrustStores[0].TotalRevokedEntries != 1 || dts.TrustStores[0].Status != elbtypes.TrustStoreStatusActive {
		t.Fatalf("DescribeTrustStores: %+v %v", dts, err)
	}
	loc, err := e.elb.GetTrustStoreCaCertificatesBundle(ctx, &elb.GetTrustStoreCaCertificatesBundleInput{TrustStoreArn: &st.ts})
	if err != nil {
		t.Fatalf("GetTrustStoreCaCertificatesBundle: %v", err)
	}
	if got := fetch(t, *loc.Location); !bytes.Equal(got, e.file("ca.crt")) {
		t.Fatalf("the bundle at %s is not the one uploaded", *loc.Location)
	}
	crl, err := e.elb.GetTrustStoreRevocationContent(ctx, &elb.GetTrustStoreRevocationContentInput{TrustStoreArn: &st.ts, RevocationId: aws.Int64(1)})
	if err != nil || !bytes.Equal(fetch(t, *crl.Location), e.file("crl.pem")) {
		t.Fatalf("GetTrustStoreRevocationContent: %v", err)
	}
	pol, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-TLS13-1-3-2021-06"}})
	if err != nil || len(pol.SslPolicies) != 1 || len(pol.SslPolicies[0].SslProtocols) != 1 || pol.SslPolicies[0].SslProtocols[0] != "TLSv1.3" {
		t.Fatalf("DescribeSSLPolicies: %+v %v", pol, err)
	}
	_, err = e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-Nope"}})
	wantCode(t, err, "SSLPolicyNotFound")

	// Renamed header names apply to new connections.
	attrs, err := e.elb.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: &st.listener,
		Attributes: []elbtypes.ListenerAttribute{{Key: aws.String(alb.HeaderAttribute(alb.HeaderSubject)), Value: aws.String("X-Client-Subject")}}})
	if err != nil || len(attrs.Attributes) != 6 {
		t.Fatalf("ModifyListenerAttributes: %+v %v", attrs, err)
	}
	if _, hdr, err := e.get(st.port, fixtures.Client, 0); err != nil || hdr["X-Client-Subject"] == nil || hdr[alb.HeaderSubject] != nil {
		t.Fatalf("renamed subject header: %v %v", hdr, err)
	}

	// Removing the revocation lets the revoked client in again.
	if _, err := e.elb.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: &st.ts, RevocationIds: []int64{1}}); err != nil {
		t.Fatalf("RemoveTrustStoreRevocations: %v", err)
	}
	if code, _, err := e.get(st.port, fixtures.ClientRevoked, 0); err != nil || code != 200 {
		t.Fatalf("revoked client after the CRL was removed: %d %v", code, err)
	}

	// The target group's health check uses its matcher: /status/403 with 403 is healthy.
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: &st.tg})
		if err != nil || len(h.TargetHealthDescriptions) != 1 {
			t.Fatalf("DescribeTargetHealth: %+v %v", h, err)
		}
		if h.TargetHealthDescriptions[0].TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target never became healthy: %+v", h.TargetHealthDescriptions[0].TargetHealth)
		}
		waitFor(ctx, 200*time.Millisecond)
	}
}

// waitFor paces a poll of a state that only changes on the health checker's own clock.
func waitFor(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()

	_, err := e.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: &st.ts})
	wantCode(t, err, "TrustStoreInUse")
	_, err = e.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: &st.tg})
	wantCode(t, err, "ResourceInUse")
	_, err = e.acm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: &st.cert})
	wantCode(t, err, "ResourceInUseException")

	missingTS := strings.Replace(st.ts, "truststore/demo/", "truststore/gone/", 1)
	_, err = e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(freePort(t)), Certificates: []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions:       []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}},
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &missingTS}})
	wantCode(t, err, "TrustStoreNotFound")
	_, err = e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(freePort(t)), Certificates: []elbtypes.Certificate{{CertificateArn: aws.String(st.cert + "0")}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}}})
	wantCode(t, err, "CertificateNotFound")
	_, err = e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(st.port), Certificates: []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}}})
	wantCode(t, err, "DuplicateListener")
	_, err = e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener, SslPolicy: aws.String("ELBSecurityPolicy-2016-08-Nope")})
	wantCode(t, err, "SSLPolicyNotFound")
	_, err = e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("ca.crt")}}})
	wantCode(t, err, "InvalidRevocationContent")
	_, err = e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("nothing-here")}}})
	wantCode(t, err, "RevocationContentNotFound")
	_, err = e.elb.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: &st.listener,
		Attributes: []elbtypes.ListenerAttribute{{Key: aws.String("routing.http.request.x_amzn_nope.header_name"), Value: aws.String("X")}}})
	wantCode(t, err, "ValidationError")
	_, err = e.elb.DescribeTrustStoreRevocations(ctx, &elb.DescribeTrustStoreRevocationsInput{TrustStoreArn: &st.ts, RevocationIds: []int64{7}})
	wantCode(t, err, "RevocationIdNotFound")

	// The listener is as it was: verify mode, and the good client gets through.
	if code, _, err := e.get(st.port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client after the refusals: %d %v", code, err)
	}
	ls, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: &st.lb})
	if err != nil || len(ls.Listeners) != 1 || *ls.Listeners[0].SslPolicy != "ELBSecurityPolicy-TLS13-1-3-2021-06" {
		t.Fatalf("listeners after the refusals: %+v %v", ls, err)
	}
}

// raw posts a Query API body and returns the status and the error code in the answer.
func raw(t *testing.T, base, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s := string(b)
	code := ""
	if i := strings.Index(s, "<Code>"); i >= 0 {
		code = s[i+6 : i+strings.Index(s[i:], "</Code>")]
	}
	return resp.StatusCode, code
}

func TestBadInputGetsAWSErrorsAndChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	form := "application/x-www-form-urlencoded"
	v := "&Version=2015-12-01"
	for _, c := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"unknown action", form, "Action=LaunchRockets" + v, 400, "InvalidAction"},
		{"no action", form, "Name=x" + v, 400, "MissingAction"},
		{"wrong version", form, "Action=CreateLoadBalancer&Version=2012-06-01&Name=x", 400, "InvalidAction"},
		{"unknown parameter", form, "Action=CreateLoadBalancer&Name=x&Colour=blue" + v, 400, "ValidationError"},
		{"misspelt list", form, "Action=CreateTargetGroup&Name=x&Protocol=HTTP&Port=80&Targets.1.Id=a" + v, 400, "ValidationError"},
		{"malformed form", form, "Action=CreateLoadBalancer&Name=%zz" + v, 404, "MalformedQueryString"},
		{"bad integer", form, "Action=CreateTargetGroup&Name=x&Protocol=HTTP&Port=eighty" + v, 400, "ValidationError"},
		{"bad name", form, "Action=CreateLoadBalancer&Name=-x-" + v, 400, "ValidationError"},
		{"oversized", form, "Action=CreateLoadBalancer&Name=x&Pad=" + strings.Repeat("a", elbv2api.MaxQueryBody) + v, 413, "RequestEntityTooLarge"},
	} {
		status, code := raw(t, e.http.URL, c.ctype, c.body)
		if status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}
	lbs, err := e.elb.DescribeLoadBalancers(t.Context(), &elb.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 0 {
		t.Fatalf("after refused calls: %+v %v", lbs, err)
	}
	resp, err := http.Post(e.http.URL, "application/x-amz-json-1.1", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Fatalf("JSON without X-Amz-Target: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL, strings.NewReader("{not json"))
	req.Header.Set("X-Amz-Target", "CertificateManager.ImportCertificate")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "ValidationException") {
		t.Fatalf("malformed ACM body: %d %s", resp.StatusCode, b)
	}
}

func TestStateSurvivesARestart(t *testing.T) {
	e := newEnv(t, nil)
	st := e.story()
	if _, err := e.elb.AddTrustStoreRevocations(t.Context(), &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem")}}}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.start()
	if code, _, err := e.get(st.port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client after the restart: %d %v", code, err)
	}
	if _, _, err := e.get(st.port, fixtures.ClientRevoked, 0); err == nil {
		t.Fatal("revoked client after the restart: the revocation was lost")
	}
	obj, err := e.s3.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("pki"), Key: aws.String("ca.crt")})
	if err != nil {
		t.Fatalf("GetObject after the restart: %v", err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(b, e.file("ca.crt")) {
		t.Fatal("the object changed across the restart")
	}
	c, err := e.acm.DescribeCertificate(t.Context(), &acm.DescribeCertificateInput{CertificateArn: &st.cert})
	if err != nil || *c.Certificate.DomainName != "localhost" || len(c.Certificate.InUseBy) != 1 {
		t.Fatalf("DescribeCertificate after the restart: %+v %v", c, err)
	}
	list, err := e.s3.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("pki")})
	if err != nil || len(list.Contents) != 3 {
		t.Fatalf("ListObjectsV2: %+v %v", list, err)
	}
}

func TestSigV4Verification(t *testing.T) {
	creds := &elbv2api.Credentials{AccessKeyID: "AKIDMTLSGATE", SecretAccessKey: "s3cr3t"}
	e := newEnv(t, creds)
	e.story() // every call of the story is signed with the right key
	e.clients(creds.AccessKeyID, "wrong")
	_, err := e.elb.DescribeLoadBalancers(t.Context(), &elb.DescribeLoadBalancersInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = e.s3.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = e.acm.DescribeCertificate(t.Context(), &acm.DescribeCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/x")})
	wantCode(t, err, "SignatureDoesNotMatch")
	e.clients("AKIDOTHER", creds.SecretAccessKey)
	_, err = e.elb.DescribeLoadBalancers(t.Context(), &elb.DescribeLoadBalancersInput{})
	wantCode(t, err, "InvalidClientTokenId")
	if status, code := raw(t, e.http.URL, "application/x-www-form-urlencoded", "Action=DescribeLoadBalancers&Version=2015-12-01"); status != 403 || code != "MissingAuthenticationToken" {
		t.Fatalf("unsigned call: %d %s", status, code)
	}
}

// TestConcurrentCallsWhileTrafficFlows changes the listener and its trust store while clients
// connect: every client gets a 200 or, for the revoked one, a refused handshake; no 5xx.
func TestConcurrentCallsWhileTrafficFlows(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := e.get(st.port, fixtures.Client, 0)
				if err != nil || code != 200 {
					errs <- errors.Join(errors.New("good client: "+strconv.Itoa(code)), err)
					return
				}
			}
		}()
	}
	for i := range 10 {
		name := "X-Subject-" + strconv.Itoa(i)
		if _, err := e.elb.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: &st.listener,
			Attributes: []elbtypes.ListenerAttribute{{Key: aws.String(alb.HeaderAttribute(alb.HeaderSubject)), Value: &name}}}); err != nil {
			t.Fatal(err)
		}
		rev, err := e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
			RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem")}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener,
			SslPolicy: aws.String([]string{"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06"}[i%2])}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
			RevocationIds: []int64{*rev.TrustStoreRevocations[0].RevocationId}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	dts, err := e.elb.DescribeTrustStoreRevocations(ctx, &elb.DescribeTrustStoreRevocationsInput{TrustStoreArn: &st.ts})
	if err != nil || len(dts.TrustStoreRevocations) != 0 {
		t.Fatalf("revocations after add/remove pairs: %+v %v", dts, err)
	}
}

func TestListenerPortChangeAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	moved := freePort(t)
	if _, err := e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener, Port: aws.Int32(moved)}); err != nil {
		t.Fatalf("ModifyListener Port: %v", err)
	}
	if code, _, err := e.get(moved, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client on the new port: %d %v", code, err)
	}
	if _, _, err := e.get(st.port, fixtures.Client, 0); err == nil {
		t.Fatal("the old port still serves after the listener moved")
	}
	if _, err := e.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: &st.lb}); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	if _, _, err := e.get(moved, fixtures.Client, 0); err == nil {
		t.Fatal("the listener still serves after its load balancer was deleted")
	}
	_, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{st.listener}})
	wantCode(t, err, "ListenerNotFound")
	if _, err := e.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: &st.ts}); err != nil {
		t.Fatalf("DeleteTrustStore once no listener uses it: %v", err)
	}
	h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: &st.tg})
	if err != nil || h.TargetHealthDescriptions[0].TargetHealth.State != elbtypes.TargetHealthStateEnumUnused ||
		h.TargetHealthDescriptions[0].TargetHealth.Reason != elbtypes.TargetHealthReasonEnumNotInUse {
		t.Fatalf("target health of a group no listener uses: %+v %v", h, err)
	}
	pol, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-TLS13-1-2-2021-06"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range pol.SslPolicies[0].Ciphers {
		names = append(names, *c.Name)
	}
	want := "TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 " +
		"ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("TLS13-1-2 ciphers in order:\n got %s\nwant %s", got, want)
	}
	if p := pol.SslPolicies[0].SslProtocols; strings.Join(p, ",") != "TLSv1.2,TLSv1.3" {
		t.Fatalf("SslProtocols = %v", p)
	}
}

func TestPageSizeRange(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.elb.DescribeTrustStores(t.Context(), &elb.DescribeTrustStoresInput{PageSize: aws.Int32(401)})
	if msg := wantCode(t, err, "ValidationError"); msg != "1 validation error detected: Value '401' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 400" {
		t.Errorf("PageSize 401: %q", msg)
	}
	_, err = e.elb.DescribeTrustStores(t.Context(), &elb.DescribeTrustStoresInput{PageSize: aws.Int32(0)})
	if msg := wantCode(t, err, "ValidationError"); msg != "1 validation error detected: Value '0' at 'pageSize' failed to satisfy constraint: Member must have value greater than or equal to 1" {
		t.Errorf("PageSize 0: %q", msg)
	}
	if _, err := e.elb.DescribeTrustStores(t.Context(), &elb.DescribeTrustStoresInput{PageSize: aws.Int32(400)}); err != nil {
		t.Fatal(err)
	}
}

// TestModifyTrustStoreAndReimport: a new bundle and a re-imported certificate apply to new
// connections; passthrough forwards the chain unverified.
func TestModifyTrustStoreAndReimport(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	e.put("ca-rsa.crt", "ca-rsa.crt")
	if _, err := e.elb.ModifyTrustStore(ctx, &elb.ModifyTrustStoreInput{TrustStoreArn: &st.ts,
		CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("ca-rsa.crt")}); err != nil {
		t.Fatalf("ModifyTrustStore: %v", err)
	}
	if _, _, err := e.get(st.port, fixtures.Client, 0); err == nil {
		t.Fatal("a client of the old bundle's CA still gets through")
	}
	if code, _, err := e.get(st.port, fixtures.ClientRSA, 0); err != nil || code != 200 {
		t.Fatalf("a client of the new bundle's CA: %d %v", code, err)
	}
	_, err := e.elb.ModifyTrustStore(ctx, &elb.ModifyTrustStoreInput{TrustStoreArn: &st.ts,
		CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("not-a-ca.crt")})
	wantCode(t, err, "InvalidCaCertificatesBundle")
	_, err = e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("demo"),
		CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("ca.crt")})
	wantCode(t, err, "DuplicateTrustStoreName")

	// Re-importing under the same ARN swaps the listener's certificate for new handshakes.
	if _, err := e.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: &st.cert,
		Certificate: e.file("sni-api.crt"), PrivateKey: e.file("sni-api.key")}); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	conf := &tls.Config{RootCAs: e.pki.Pool(fixtures.RootCA), ServerName: "api.example.test",
		Certificates: []tls.Certificate{e.pki.Get(fixtures.ClientRSA).TLSCertificate()}}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(st.port)), conf)
	if err != nil {
		t.Fatalf("handshake for api.example.test after the re-import: %v", err)
	}
	conn.Close()
	_, err = e.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: e.file("sni-api.crt"), PrivateKey: e.file("server.key")})
	wantCode(t, err, "ValidationException")
	// A chain in the certificate field: ACM's own words (AWS's import troubleshooting page).
	_, err = e.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: append(e.file("server.crt"), e.file("ca.crt")...), PrivateKey: e.file("server.key")})
	wantCode(t, err, "ValidationException")
	if err == nil || !strings.Contains(err.Error(), "The certificate field contains more than one certificate. You can specify only one certificate in this field.") {
		t.Errorf("a chain in the certificate field: %v, want ACM's message", err)
	}

	// Passthrough: any certificate, forwarded as X-Amzn-Mtls-Clientcert.
	if _, err := e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener,
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("passthrough")}}); err != nil {
		t.Fatalf("ModifyListener passthrough: %v", err)
	}
	conf2 := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{e.pki.Get(fixtures.ClientUnknownCA).TLSCertificate()}} //nolint:gosec // the check is on the target's side
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf2}, Timeout: 10 * time.Second}
	resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(int(st.port)) + "/anything")
	if err != nil {
		t.Fatalf("passthrough: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), alb.HeaderClientCert) {
		t.Fatalf("passthrough: %d %s", resp.StatusCode, b)
	}
	if _, err := e.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: &st.ts}); err != nil {
		t.Fatalf("DeleteTrustStore once the listener no longer verifies: %v", err)
	}
}

// ModifyLoadBalancerAttributes sets the idle timeout by ALB's range, its listeners close an idle
// connection by it, and a value out of range or a key the emulator does not apply is refused
// naming it, leaving the attributes as they were.
func TestLoadBalancerAttributes(t *testing.T) {
	e := newEnv(t, nil)
	st := e.story()
	ctx := t.Context()
	attrs := func() map[string]string {
		out, err := e.elb.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: &st.lb})
		if err != nil {
			t.Fatalf("DescribeLoadBalancerAttributes: %v", err)
		}
		m := map[string]string{}
		for _, a := range out.Attributes {
			m[*a.Key] = *a.Value
		}
		return m
	}
	if got := attrs(); got[alb.AttrIdleTimeout] != "60" || got[alb.AttrClientKeepAlive] != "3600" {
		t.Fatalf("default idle timeout %q and client keepalive %q, want ALB's 60 and 3600", got[alb.AttrIdleTimeout], got[alb.AttrClientKeepAlive])
	}
	if _, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &st.lb,
		Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String(alb.AttrIdleTimeout), Value: aws.String("1")}}}); err != nil {
		t.Fatalf("ModifyLoadBalancerAttributes: %v", err)
	}
	for _, bad := range []elbtypes.LoadBalancerAttribute{{Key: aws.String(alb.AttrIdleTimeout), Value: aws.String("4001")},
		{Key: aws.String(alb.AttrClientKeepAlive), Value: aws.String("59")}, {Key: aws.String("idle_timeout.seconds"), Value: aws.String("5")}} {
		_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &st.lb, Attributes: []elbtypes.LoadBalancerAttribute{bad}})
		if msg := wantCode(t, err, "ValidationError"); !strings.Contains(msg, *bad.Key) {
			t.Errorf("%s=%s refused without naming it: %s", *bad.Key, *bad.Value, msg)
		}
	}
	if got := attrs(); got[alb.AttrIdleTimeout] != "1" || got[elbv2api.AttrConnLogsEnabled] != "false" || len(got) != 5 {
		t.Fatalf("attributes after refused calls: %v", got)
	}
	// A target silent past the idle timeout: ALB answers 504 (A-REQ-1), long before the target would.
	conf := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{e.pki.Get(fixtures.Client).TLSCertificate()}} //nolint:gosec // the check is on the idle timeout
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}, Timeout: 10 * time.Second}
	began := time.Now()
	resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(int(st.port)) + "/delay/8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || time.Since(began) > 5*time.Second {
		t.Fatalf("a target silent for 8 s under idle_timeout.timeout_seconds=1: %d after %s, want 504 within seconds", resp.StatusCode, time.Since(began))
	}
}

// A forward action naming a target group by name, not ARN, gets ELBv2's ValidationError naming
// it; an ARN of no target group gets TargetGroupNotFound.
func TestForwardToANameIsNotAnARN(t *testing.T) {
	e := newEnv(t, nil)
	st := e.story()
	forward := func(arn string) error {
		_, err := e.elb.ModifyListener(t.Context(), &elb.ModifyListenerInput{ListenerArn: &st.listener,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(arn)}}})
		return err
	}
	if msg := wantCode(t, forward("echo"), "ValidationError"); msg != "'echo' is not a valid target group ARN" {
		t.Errorf("a name as the target group ARN: %q", msg)
	}
	wantCode(t, forward(st.tg+"0"), "TargetGroupNotFound")
}

// With connection_logs.s3.* set, the load balancer's connection log lands in the bucket as ALB
// names and compresses it; a missing bucket is refused and changes nothing.
func TestConnectionLogsToS3(t *testing.T) {
	e := newEnv(t, nil)
	st := e.story()
	ctx := t.Context()
	set := func(kv ...string) error {
		var attrs []elbtypes.LoadBalancerAttribute
		for i := 0; i+1 < len(kv); i += 2 {
			attrs = append(attrs, elbtypes.LoadBalancerAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &st.lb, Attributes: attrs})
		return err
	}
	msg := wantCode(t, set(elbv2api.AttrConnLogsEnabled, "true", elbv2api.AttrConnLogsBucket, "no-such-bucket"), "InvalidConfigurationRequest")
	if !strings.Contains(msg, "no-such-bucket") {
		t.Errorf("a missing bucket: %s", msg)
	}
	if err := set(elbv2api.AttrConnLogsEnabled, "true", elbv2api.AttrConnLogsBucket, "pki", elbv2api.AttrConnLogsPrefix, "logs"); err != nil {
		t.Fatalf("enable connection logs: %v", err)
	}
	if code, _, err := e.get(st.port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client: %d %v", code, err)
	}
	if _, _, err := e.get(st.port, fixtures.ClientUnknownCA, 0); err == nil {
		t.Fatal("untrusted client got an answer")
	}
	var lines []string
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for len(lines) < 2 {
		select {
		case <-e.published:
		case <-timeout.C:
			t.Fatalf("no connection log with both handshakes was published within 10 s; S3 holds %q", lines)
		}
		lines = lines[:0]
		list, err := e.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("pki"), Prefix: aws.String("logs/AWSLogs/000000000000/elasticloadbalancing/us-east-1/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Contents {
			if !strings.Contains(*o.Key, "/conn_log.000000000000_elasticloadbalancing_us-east-1_app.") || !strings.HasSuffix(*o.Key, ".log.gz") {
				t.Fatalf("object %s: not ALB's connection-log name", *o.Key)
			}
			obj, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pki"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(obj.Body)
			if err != nil {
				t.Fatalf("%s: not gzip: %v", *o.Key, err)
			}
			b, err := io.ReadAll(zr)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
		}
	}
	var statuses []string
	for _, l := range lines {
		entry, err := alb.ParseLogLine(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		statuses = append(statuses, entry.VerifyStatus)
		// The elb field names the load balancer the API created: its name and its ARN's id.
		if want := "app/mtls-demo/" + st.lb[strings.LastIndex(st.lb, "/")+1:]; entry.ELB != want {
			t.Errorf("elb field %q, want %q (the load balancer's name and ARN id)", entry.ELB, want)
		}
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []string{"Failed:ClientCertUntrusted", "Success"}) {
		t.Fatalf("connection log in S3: %q", lines)
	}
}

// The pre-2021 policies AWS still lists and accepts: CreateListener and ModifyListener take them,
// the listener serves, and DescribeSSLPolicies gives their protocols and ciphers in ELB's order.
func TestPre2021PolicyThroughTheAPI(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	port := freePort(t)
	l, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(port), SslPolicy: aws.String("ELBSecurityPolicy-FS-1-2-Res-2020-10"),
		Certificates:         []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions:       []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}},
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &st.ts}})
	if err != nil {
		t.Fatalf("CreateListener with ELBSecurityPolicy-FS-1-2-Res-2020-10: %v", err)
	}
	if got := *l.Listeners[0].SslPolicy; got != "ELBSecurityPolicy-FS-1-2-Res-2020-10" {
		t.Fatalf("the new listener's SslPolicy is %s", got)
	}
	if code, _, err := e.get(port, fixtures.Client, 0); err != nil || code != 200 {
		t.Fatalf("good client on the FS-1-2-Res-2020-10 listener: %d %v", code, err)
	}
	if _, err := e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener,
		SslPolicy: aws.String("ELBSecurityPolicy-TLS-1-0-2015-04")}); err != nil {
		t.Fatalf("ModifyListener to ELBSecurityPolicy-TLS-1-0-2015-04: %v", err)
	}
	ls, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{st.listener}})
	if err != nil || *ls.Listeners[0].SslPolicy != "ELBSecurityPolicy-TLS-1-0-2015-04" {
		t.Fatalf("DescribeListeners after ModifyListener: %+v %v", ls, err)
	}
	if code, _, err := e.get(st.port, fixtures.Client, tls.VersionTLS12); err != nil || code != 200 {
		t.Fatalf("good client on the TLS-1-0-2015-04 listener: %d %v", code, err)
	}

	for name, want := range map[string]struct{ protocols, ciphers string }{
		"ELBSecurityPolicy-FS-1-2-Res-2020-10": {"TLSv1.2",
			"ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384"},
		"ELBSecurityPolicy-TLS-1-0-2015-04": {"TLSv1 TLSv1.1 TLSv1.2",
			"ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 " +
				"ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 " +
				"ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES256-SHA " +
				"AES128-GCM-SHA256 AES128-SHA256 AES128-SHA AES256-GCM-SHA384 AES256-SHA256 AES256-SHA DES-CBC3-SHA"},
	} {
		pol, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{name}})
		if err != nil || len(pol.SslPolicies) != 1 {
			t.Fatalf("DescribeSSLPolicies %s: %+v %v", name, pol, err)
		}
		p := pol.SslPolicies[0]
		var ciphers []string
		for i, c := range p.Ciphers {
			if int(*c.Priority) != i+1 {
				t.Errorf("%s: %s has priority %d, want %d", name, *c.Name, *c.Priority, i+1)
			}
			ciphers = append(ciphers, *c.Name)
		}
		if got := strings.Join(p.SslProtocols, " "); got != want.protocols {
			t.Errorf("%s: SslProtocols %s, want %s", name, got, want.protocols)
		}
		if got := strings.Join(ciphers, " "); got != want.ciphers {
			t.Errorf("%s: ciphers\n got %s\nwant %s", name, got, want.ciphers)
		}
	}
	all, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range all.SslPolicies {
		names = append(names, *p.Name)
	}
	for _, n := range []string{"ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-1-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
		"ELBSecurityPolicy-FS-2018-06", "ELBSecurityPolicy-2015-05", "ELBSecurityPolicy-TLS-1-0-2015-04", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
		"ELBSecurityPolicy-FS-1-1-2019-08", "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2020-10"} {
		if !slices.Contains(names, n) {
			t.Errorf("DescribeSSLPolicies without Names lacks %s: %v", n, names)
		}
	}
}
