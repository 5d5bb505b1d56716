package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// albHealthCheckSecond is how long one health-check second lasts in the reference's ELBv2
// endpoint under the suite (elbv2api.Options.HealthCheckSecond, an emulator-only setting): a
// suite's fractional intervals (0.5 s) become the API's whole seconds (10) at this unit.
const albHealthCheckSecond = 50 * time.Millisecond

// albBucket is the bucket the suite's CA bundles and CRLs are uploaded to, and where the load
// balancer writes its connection logs (under albConnLogPrefix).
const (
	albBucket        = "mtlsgate-suite"
	albConnLogPrefix = "connection-logs"
	// albConnLogInterval is how often the reference's endpoint publishes connection logs under
	// the suite (elbv2api.Options.ConnectionLogInterval, emulator-only; ALB's is 5 minutes).
	albConnLogInterval = 20 * time.Millisecond
)

// elbv2Configurer builds and changes an ALB through the ELBv2, S3 and ACM APIs with the SDK, as a
// user would: a suite's configuration (reference/alb's ELBv2-shaped types, with local files and
// names where the API takes S3 objects and ARNs) becomes PutObject, ImportCertificate and the
// ELBv2 Create/Modify/Register/Add calls. Each Apply issues only the calls that change
// something, in an order that leaves the running ALB as it was when a call is refused.
type elbv2Configurer struct {
	elb *elb.Client
	s3  *s3.Client
	acm *acm.Client

	lb          string                     // the load balancer's ARN
	groups      map[string]string          // target group name → ARN
	groupProto  map[string]string          // target group name → its protocol (fixed at creation)
	stores      map[string]string          // trust store name → ARN
	bundles     map[string]string          // trust store ARN → the S3 key of its bundle
	revocations map[string][]revocationRef // trust store ARN → its revocation lists
	certs       map[string]string          // S3-style content key of a certificate and key → ACM ARN
	listeners   []string                   // listener ARNs, in configuration order
	ports       []int                      // their ports
	lbAttrs     []alb.Attribute

	logMu      sync.Mutex
	logObjects map[string]bool // connection-log objects read so far
	logLines   []string        // their lines, in the order the objects were found
}

// revocationRef is one revocation list added to a trust store: its S3 key and its ID.
type revocationRef struct {
	key string
	id  int64
}

// newELBv2Configurer creates the load balancer and the bucket on an empty endpoint.
func newELBv2Configurer(ctx context.Context, cfg aws.Config, name string) (*elbv2Configurer, error) {
	c := &elbv2Configurer{elb: elb.NewFromConfig(cfg), acm: acm.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		groups: map[string]string{}, groupProto: map[string]string{}, stores: map[string]string{}, bundles: map[string]string{},
		revocations: map[string][]revocationRef{}, certs: map[string]string{}}
	if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(albBucket)}); err != nil {
		return nil, fmt.Errorf("S3 CreateBucket %s: %w", albBucket, awsError(err))
	}
	if name == "" {
		name = "mtlsgate"
	}
	lb, err := c.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: &name})
	if err != nil {
		return nil, fmt.Errorf("CreateLoadBalancer %s: %w", name, awsError(err))
	}
	c.lb = *lb.LoadBalancers[0].LoadBalancerArn
	if _, err := c.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &c.lb, Attributes: []elbtypes.LoadBalancerAttribute{
		{Key: aws.String("connection_logs.s3.enabled"), Value: aws.String("true")},
		{Key: aws.String("connection_logs.s3.bucket"), Value: aws.String(albBucket)},
		{Key: aws.String("connection_logs.s3.prefix"), Value: aws.String(albConnLogPrefix)}}}); err != nil {
		return nil, fmt.Errorf("ModifyLoadBalancerAttributes: turn on connection logs to s3://%s/%s: %w", albBucket, albConnLogPrefix, awsError(err))
	}
	return c, nil
}

// Apply makes the ALB match cfg: objects and certificates first, then target groups, trust
// stores, load balancer attributes and listeners. Listener ports of 0 take a free loopback port
// at creation and keep it after.
func (c *elbv2Configurer) Apply(ctx context.Context, cfg alb.Config) error {
	for i := range cfg.TargetGroups {
		if err := c.targetGroup(ctx, cfg.TargetGroups[i]); err != nil {
			return err
		}
	}
	for _, ts := range cfg.TrustStores {
		if err := c.trustStore(ctx, ts); err != nil {
			return err
		}
	}
	if err := c.attributes(ctx, cfg.LoadBalancerAttributes); err != nil {
		return err
	}
	if len(cfg.Listeners) < len(c.listeners) {
		return fmt.Errorf("the configuration has %d listeners, the running ALB %d: the suite's configurations keep their listeners", len(cfg.Listeners), len(c.listeners))
	}
	for i, l := range cfg.Listeners {
		if err := c.listener(ctx, i, l); err != nil {
			return err
		}
	}
	return nil
}

// put uploads a file to the bucket under its content's hash and returns the key.
func (c *elbv2Configurer) put(ctx context.Context, file string) (string, []byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("read %s for S3: %w", file, awsError(err))
	}
	key := contentKey(b)
	if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(albBucket), Key: &key, Body: bytes.NewReader(b)}); err != nil {
		return "", nil, fmt.Errorf("S3 PutObject %s (%s): %w", key, file, awsError(err))
	}
	return key, b, nil
}

func contentKey(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// seconds turns a suite's health-check seconds into the API's whole seconds at
// albHealthCheckSecond; zero stays zero (ALB's default).
func seconds(s float64) *int32 {
	if s == 0 {
		return nil
	}
	return aws.Int32(int32(math.Round(s / albHealthCheckSecond.Seconds())))
}

func intOrNil(n int) *int32 {
	if n == 0 {
		return nil
	}
	return aws.Int32(int32(n))
}

// targetGroup creates or modifies one target group and registers exactly its targets. A new
// protocol is a new target group (ALB's protocol is fixed at creation).
func (c *elbv2Configurer) targetGroup(ctx context.Context, tg alb.TargetGroup) error {
	arn, exists := c.groups[tg.TargetGroupName]
	matcher := tg.Matcher.HttpCode
	if matcher == "" {
		matcher = "200"
	}
	enabled := tg.HealthCheckEnabled == nil || *tg.HealthCheckEnabled
	path := orString(tg.HealthCheckPath, "/")
	interval, timeout := seconds(tg.HealthCheckIntervalSeconds), seconds(tg.HealthCheckTimeoutSeconds)
	if !exists || c.groupProto[tg.TargetGroupName] != tg.Protocol {
		name := tg.TargetGroupName
		if exists {
			name = tg.TargetGroupName + "-" + strings.ToLower(tg.Protocol)
		}
		port := 80
		if len(tg.Targets) > 0 {
			port = tg.Targets[0].Port
		}
		out, err := c.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: &name, Protocol: elbtypes.ProtocolEnum(tg.Protocol),
			Port: aws.Int32(int32(port)), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckEnabled: &enabled,
			HealthCheckProtocol: elbtypes.ProtocolEnum(tg.HealthCheckProtocol), HealthCheckPath: &path,
			HealthCheckIntervalSeconds: interval, HealthCheckTimeoutSeconds: timeout,
			HealthyThresholdCount: intOrNil(tg.HealthyThresholdCount), UnhealthyThresholdCount: intOrNil(tg.UnhealthyThresholdCount),
			Matcher: &elbtypes.Matcher{HttpCode: &matcher}})
		if err != nil {
			return fmt.Errorf("target group %q: CreateTargetGroup: %w", tg.TargetGroupName, awsError(err))
		}
		arn = *out.TargetGroups[0].TargetGroupArn
		c.groups[tg.TargetGroupName], c.groupProto[tg.TargetGroupName] = arn, tg.Protocol
	} else {
		// Unset fields go back to ALB's defaults, as a fresh configuration would have them.
		in := &elb.ModifyTargetGroupInput{TargetGroupArn: &arn, HealthCheckEnabled: &enabled, HealthCheckPath: &path,
			HealthCheckIntervalSeconds: orInt32(interval, 30), HealthCheckTimeoutSeconds: orInt32(timeout, 5),
			HealthyThresholdCount: orInt32(intOrNil(tg.HealthyThresholdCount), 5), UnhealthyThresholdCount: orInt32(intOrNil(tg.UnhealthyThresholdCount), 2),
			HealthCheckProtocol: elbtypes.ProtocolEnum(orString(tg.HealthCheckProtocol, tg.Protocol)), Matcher: &elbtypes.Matcher{HttpCode: &matcher}}
		if _, err := c.elb.ModifyTargetGroup(ctx, in); err != nil {
			return fmt.Errorf("target group %q: ModifyTargetGroup: %w", tg.TargetGroupName, awsError(err))
		}
	}
	return c.targets(ctx, tg.TargetGroupName, arn, tg.Targets)
}

// targets registers the targets want and deregisters the others.
func (c *elbv2Configurer) targets(ctx context.Context, name, arn string, want []alb.Target) error {
	h, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: &arn})
	if err != nil {
		return fmt.Errorf("target group %q: DescribeTargetHealth: %w", name, awsError(err))
	}
	var add, drop []elbtypes.TargetDescription
	have := map[alb.Target]bool{}
	for _, d := range h.TargetHealthDescriptions {
		t := alb.Target{Id: *d.Target.Id, Port: int(aws.ToInt32(d.Target.Port))}
		have[t] = true
		if !slices.Contains(want, t) {
			drop = append(drop, *d.Target)
		}
	}
	for _, t := range want {
		if !have[t] {
			add = append(add, elbtypes.TargetDescription{Id: aws.String(t.Id), Port: aws.Int32(int32(t.Port))})
		}
	}
	if len(add) > 0 {
		if _, err := c.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: &arn, Targets: add}); err != nil {
			return fmt.Errorf("target group %q: RegisterTargets: %w", name, awsError(err))
		}
	}
	if len(drop) > 0 {
		if _, err := c.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: &arn, Targets: drop}); err != nil {
			return fmt.Errorf("target group %q: DeregisterTargets: %w", name, awsError(err))
		}
	}
	return nil
}

// trustStore creates the trust store from its bundle in S3 or points it at a new one, then adds
// the CRLs it lacks before removing those it no longer has, so a refused CRL changes nothing.
func (c *elbv2Configurer) trustStore(ctx context.Context, ts alb.TrustStore) error {
	key, _, err := c.put(ctx, ts.CaCertificatesBundleFile)
	if err != nil {
		return fmt.Errorf("trust store %q: %w", ts.Name, awsError(err))
	}
	arn, exists := c.stores[ts.Name]
	switch {
	case !exists:
		out, err := c.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: &ts.Name, CaCertificatesBundleS3Bucket: aws.String(albBucket), CaCertificatesBundleS3Key: &key})
		if err != nil {
			return fmt.Errorf("trust store %q: CreateTrustStore: %w", ts.Name, awsError(err))
		}
		arn = *out.TrustStores[0].TrustStoreArn
		c.stores[ts.Name] = arn
	case c.bundles[arn] != key:
		if _, err := c.elb.ModifyTrustStore(ctx, &elb.ModifyTrustStoreInput{TrustStoreArn: &arn, CaCertificatesBundleS3Bucket: aws.String(albBucket), CaCertificatesBundleS3Key: &key}); err != nil {
			return fmt.Errorf("trust store %q: ModifyTrustStore: %w", ts.Name, awsError(err))
		}
	}
	c.bundles[arn] = key
	// Revocations are matched by content, as a multiset: a list given twice is two lists (ALB
	// counts them towards its 30).
	spare := slices.Clone(c.revocations[arn])
	var add []elbtypes.RevocationContent
	for _, r := range ts.RevocationContents {
		k, _, err := c.put(ctx, r.File)
		if err != nil {
			return fmt.Errorf("trust store %q: %w", ts.Name, err)
		}
		if i := slices.IndexFunc(spare, func(x revocationRef) bool { return x.key == k }); i >= 0 {
			spare = slices.Delete(spare, i, i+1)
			continue
		}
		add = append(add, elbtypes.RevocationContent{S3Bucket: aws.String(albBucket), S3Key: aws.String(k), RevocationType: elbtypes.RevocationType(orString(r.RevocationType, "CRL"))})
	}
	if len(add) > 0 {
		out, err := c.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &arn, RevocationContents: add})
		if err != nil {
			return fmt.Errorf("trust store %q: AddTrustStoreRevocations: %w", ts.Name, awsError(err))
		}
		for i, r := range out.TrustStoreRevocations {
			c.revocations[arn] = append(c.revocations[arn], revocationRef{key: *add[i].S3Key, id: *r.RevocationId})
		}
	}
	var drop []int64
	for _, r := range spare {
		drop = append(drop, r.id)
		c.revocations[arn] = slices.DeleteFunc(c.revocations[arn], func(x revocationRef) bool { return x.id == r.id })
	}
	if len(drop) > 0 {
		if _, err := c.elb.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: &arn, RevocationIds: drop}); err != nil {
			return fmt.Errorf("trust store %q: RemoveTrustStoreRevocations: %w", ts.Name, awsError(err))
		}
	}
	return nil
}

// attributes sets the load balancer's attributes; one no longer given goes back to its default.
func (c *elbv2Configurer) attributes(ctx context.Context, attrs []alb.Attribute) error {
	if slices.Equal(attrs, c.lbAttrs) {
		return nil
	}
	var in []elbtypes.LoadBalancerAttribute
	for _, a := range attrs {
		in = append(in, elbtypes.LoadBalancerAttribute{Key: aws.String(a.Key), Value: aws.String(a.Value)})
	}
	if !slices.ContainsFunc(attrs, func(a alb.Attribute) bool { return a.Key == alb.AttrIdleTimeout }) {
		in = append(in, elbtypes.LoadBalancerAttribute{Key: aws.String(alb.AttrIdleTimeout), Value: aws.String(strconv.Itoa(int(alb.DefaultIdleTimeout.Seconds())))})
	}
	if _, err := c.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: &c.lb, Attributes: in}); err != nil {
		return fmt.Errorf("ModifyLoadBalancerAttributes: %w", awsError(err))
	}
	c.lbAttrs = slices.Clone(attrs)
	return nil
}

// certificate imports a certificate and key into ACM once.
func (c *elbv2Configurer) certificate(ctx context.Context, cert alb.Certificate) (string, error) {
	cb, err := os.ReadFile(cert.CertificateFile)
	if err != nil {
		return "", fmt.Errorf("read the certificate for ACM: %w", awsError(err))
	}
	kb, err := os.ReadFile(cert.PrivateKeyFile)
	if err != nil {
		return "", fmt.Errorf("read the private key for ACM: %w", awsError(err))
	}
	key := contentKey(cb, kb)
	if arn, ok := c.certs[key]; ok {
		return arn, nil
	}
	// ACM takes the leaf alone; the rest of the file is its chain.
	leaf, chain := cb, []byte(nil)
	if i := bytes.Index(cb[1:], []byte("-----BEGIN CERTIFICATE-----")); i >= 0 {
		leaf, chain = cb[:i+1], cb[i+1:]
	}
	out, err := c.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: leaf, CertificateChain: chain, PrivateKey: kb})
	if err != nil {
		return "", fmt.Errorf("ACM ImportCertificate %s: %w", cert.CertificateFile, awsError(err))
	}
	c.certs[key] = *out.CertificateArn
	return *out.CertificateArn, nil
}

// listener creates or modifies listener i and sets its attributes (the header names; one no
// longer given goes back to ALB's name).
func (c *elbv2Configurer) listener(ctx context.Context, i int, l alb.Listener) error {
	var certs []elbtypes.Certificate
	for _, cert := range l.Certificates {
		arn, err := c.certificate(ctx, cert)
		if err != nil {
			return fmt.Errorf("listener %d: %w", i, awsError(err))
		}
		certs = append(certs, elbtypes.Certificate{CertificateArn: aws.String(arn)})
	}
	var actions []elbtypes.Action
	for _, a := range l.DefaultActions {
		arn, ok := c.groups[a.TargetGroupArn]
		if !ok {
			arn = a.TargetGroupArn // an ARN, or a name the API will refuse
		}
		actions = append(actions, elbtypes.Action{Type: elbtypes.ActionTypeEnum(a.Type), TargetGroupArn: aws.String(arn)})
	}
	ma := l.MutualAuthentication
	mutual := &elbtypes.MutualAuthenticationAttributes{Mode: aws.String(orString(ma.Mode, alb.ModeOff)),
		IgnoreClientCertificateExpiry: aws.Bool(ma.IgnoreClientCertificateExpiry)}
	if ma.TrustStoreArn != "" {
		arn, ok := c.stores[ma.TrustStoreArn]
		if !ok {
			arn = ma.TrustStoreArn
		}
		mutual.TrustStoreArn = &arn
	}
	if ma.AdvertiseTrustStoreCaNames != "" {
		mutual.AdvertiseTrustStoreCaNames = elbtypes.AdvertiseTrustStoreCaNamesEnum(ma.AdvertiseTrustStoreCaNames)
	}
	policy := orString(l.SslPolicy, alb.DefaultPolicy)
	var arn string
	if i < len(c.listeners) {
		arn = c.listeners[i]
		if l.Port != 0 && l.Port != c.ports[i] {
			return fmt.Errorf("listener %d: port %d: the running listener keeps port %d", i, l.Port, c.ports[i])
		}
		if _, err := c.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &arn, Protocol: elbtypes.ProtocolEnum(l.Protocol),
			SslPolicy: &policy, Certificates: certs, DefaultActions: actions, MutualAuthentication: mutual}); err != nil {
			return fmt.Errorf("listener %d: ModifyListener: %w", i, awsError(err))
		}
	} else {
		port := l.Port
		if port == 0 {
			p, err := freePort()
			if err != nil {
				return fmt.Errorf("listener %d: %w", i, awsError(err))
			}
			port = p
		}
		out, err := c.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &c.lb, Protocol: elbtypes.ProtocolEnum(l.Protocol),
			Port: aws.Int32(int32(port)), SslPolicy: &policy, Certificates: certs, DefaultActions: actions, MutualAuthentication: mutual})
		if err != nil {
			return fmt.Errorf("listener %d: CreateListener: %w", i, awsError(err))
		}
		arn = *out.Listeners[0].ListenerArn
		c.listeners, c.ports = append(c.listeners, arn), append(c.ports, port)
	}
	set := map[string]string{}
	for _, a := range l.Attributes {
		set[a.Key] = a.Value
	}
	var attrs []elbtypes.ListenerAttribute
	for _, h := range []string{alb.HeaderSerialNumber, alb.HeaderIssuer, alb.HeaderSubject, alb.HeaderValidity, alb.HeaderLeaf, alb.HeaderClientCert} {
		k := alb.HeaderAttribute(h)
		v, ok := set[k]
		if !ok {
			v = h
		}
		delete(set, k)
		attrs = append(attrs, elbtypes.ListenerAttribute{Key: aws.String(k), Value: aws.String(v)})
	}
	for _, a := range l.Attributes { // keys ALB does not know: the API names them
		if _, ok := set[a.Key]; ok {
			attrs = append(attrs, elbtypes.ListenerAttribute{Key: aws.String(a.Key), Value: aws.String(a.Value)})
		}
	}
	if _, err := c.elb.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: &arn, Attributes: attrs}); err != nil {
		return fmt.Errorf("listener %d: ModifyListenerAttributes: %w", i, awsError(err))
	}
	return nil
}

// TargetHealth is DescribeTargetHealth of the named group, in reference/alb's terms.
func (c *elbv2Configurer) TargetHealth(ctx context.Context, group string) ([]alb.TargetHealth, error) {
	arn, ok := c.groups[group]
	if !ok {
		return nil, fmt.Errorf("target group %q: not in the configuration", group)
	}
	out, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: &arn})
	if err != nil {
		return nil, fmt.Errorf("target group %q: DescribeTargetHealth: %w", group, awsError(err))
	}
	var hs []alb.TargetHealth
	for _, d := range out.TargetHealthDescriptions {
		h := alb.TargetHealth{Id: aws.ToString(d.Target.Id), Port: int(aws.ToInt32(d.Target.Port))}
		if d.TargetHealth != nil {
			h.State, h.Reason, h.Description = string(d.TargetHealth.State), string(d.TargetHealth.Reason), aws.ToString(d.TargetHealth.Description)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// awsError is err as AWS states it, "Code: message", without the SDK's transport details; other
// errors pass unchanged.
func awsError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return err
}

// ConnectionLog reads the load balancer's connection logs from S3, as a user would: every
// gzipped object under the prefix, each read once, its lines in the order the objects appeared.
func (c *elbv2Configurer) ConnectionLog(ctx context.Context) ([]string, error) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if c.logObjects == nil {
		c.logObjects = map[string]bool{}
	}
	var fresh []s3types.Object
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String(albBucket), Prefix: aws.String(albConnLogPrefix + "/AWSLogs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return slices.Clone(c.logLines), fmt.Errorf("list the connection logs: %w", awsError(err))
		}
		for _, o := range page.Contents {
			if !c.logObjects[*o.Key] {
				fresh = append(fresh, o)
			}
		}
	}
	slices.SortStableFunc(fresh, func(a, b s3types.Object) int { return aws.ToTime(a.LastModified).Compare(aws.ToTime(b.LastModified)) })
	for _, o := range fresh {
		obj, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(albBucket), Key: o.Key})
		if err != nil {
			return slices.Clone(c.logLines), fmt.Errorf("read the connection log %s: %w", *o.Key, awsError(err))
		}
		b, err := gunzipAll(obj.Body)
		obj.Body.Close()
		if err != nil {
			return slices.Clone(c.logLines), fmt.Errorf("read the connection log %s: %w", *o.Key, err)
		}
		c.logObjects[*o.Key] = true
		if t := strings.TrimRight(string(b), "\n"); t != "" {
			c.logLines = append(c.logLines, strings.Split(t, "\n")...)
		}
	}
	return slices.Clone(c.logLines), nil
}

func gunzipAll(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// freePort is a loopback port free right now, for a listener the API creates (the API, as
// AWS's, takes a port from 1 to 65535, not 0).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", awsError(err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt32(v *int32, def int32) *int32 {
	if v == nil {
		return &def
	}
	return v
}

// errYAMLOnly says a configuration uses a setting the ELBv2 API cannot express.
var errYAMLOnly = errors.New("a setting only reference/alb's YAML loader has")

// yamlOnly names the settings of cfg the ELBv2 API cannot express, which the reference target
// then loads through reference/alb's YAML types instead (those specs check the loader itself):
// ConnectionLogs.Path (a real ALB writes its connection log to S3).
func yamlOnly(cfg alb.Config) error {
	if cfg.ConnectionLogs.Path != "" {
		return fmt.Errorf("%w: ConnectionLogs.Path", errYAMLOnly)
	}
	return nil
}
