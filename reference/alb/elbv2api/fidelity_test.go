package elbv2api_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// Describe calls page as ELBv2 does: PageSize results at most, NextMarker for the rest (none on
// the last page), a Marker leading to the next page; the SDK's paginators see every result
// once. A marker the endpoint did not hand out is a ValidationError.
func TestDescribePagination(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	names := []string{"demo"}
	for _, n := range []string{"second", "third"} {
		if _, err := e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String(n), CaCertificatesBundleS3Bucket: aws.String("pki"),
			CaCertificatesBundleS3Key: aws.String("ca.crt")}); err != nil {
			t.Fatalf("CreateTrustStore %s: %v", n, err)
		}
		names = append(names, n)
	}
	first, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{PageSize: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.TrustStores) != 2 || first.NextMarker == nil || *first.NextMarker == "" {
		t.Fatalf("first page of 2: %d trust stores, NextMarker %v", len(first.TrustStores), first.NextMarker)
	}
	rest, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{PageSize: aws.Int32(2), Marker: first.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.TrustStores) != 1 || rest.NextMarker != nil {
		t.Fatalf("last page: %d trust stores, NextMarker %v", len(rest.TrustStores), rest.NextMarker)
	}
	var seen []string
	for _, ts := range append(first.TrustStores, rest.TrustStores...) {
		seen = append(seen, *ts.Name)
	}
	if strings.Join(seen, ",") != strings.Join(names, ",") {
		t.Fatalf("pages hold %v, want %v once each in creation order", seen, names)
	}
	all, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{})
	if err != nil || len(all.TrustStores) != 3 || all.NextMarker != nil {
		t.Fatalf("no PageSize: %+v %v", all, err)
	}

	policies, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var paged []string
	for in := (&elb.DescribeSSLPoliciesInput{PageSize: aws.Int32(3)}); ; {
		out, err := e.elb.DescribeSSLPolicies(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SslPolicies) > 3 {
			t.Fatalf("a page of %d policies for PageSize 3", len(out.SslPolicies))
		}
		for _, sp := range out.SslPolicies {
			paged = append(paged, *sp.Name)
		}
		if out.NextMarker == nil {
			break
		}
		in.Marker = out.NextMarker
	}
	if len(paged) != len(policies.SslPolicies) || len(paged) < 4 {
		t.Fatalf("paginated %d policies, unpaginated %d", len(paged), len(policies.SslPolicies))
	}

	port := freePort(t)
	if _, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(port), Certificates: []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}}}); err != nil {
		t.Fatal(err)
	}
	var ports []int32
	for p := elb.NewDescribeListenersPaginator(e.elb, &elb.DescribeListenersInput{LoadBalancerArn: &st.lb, PageSize: aws.Int32(1)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range out.Listeners {
			ports = append(ports, *l.Port)
		}
	}
	if len(ports) != 2 || ports[0] != st.port || ports[1] != port {
		t.Fatalf("listeners page by page: %v, want [%d %d]", ports, st.port, port)
	}

	_, err = e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{Marker: aws.String("not-a-marker")})
	if msg := wantCode(t, err, "ValidationError"); !strings.Contains(msg, "not-a-marker") {
		t.Errorf("a foreign marker: %q", msg)
	}
}

// A parameter that carries an ELBv2 ARN refuses a value of another shape (a name, an ARN of
// another kind) with ELBv2's "'X' is not a valid <kind> ARN" ValidationError, and nothing
// changes.
func TestARNParametersAreChecked(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	for _, c := range []struct {
		call func() error
		want string
	}{
		{func() error {
			_, err := e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{"mtls-demo"}})
			return err
		}, "'mtls-demo' is not a valid load balancer ARN"},
		{func() error {
			_, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{st.lb}})
			return err
		}, "'" + st.lb + "' is not a valid listener ARN"},
		{func() error {
			_, err := e.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: aws.String("demo")})
			return err
		}, "'demo' is not a valid trust store ARN"},
		{func() error {
			_, err := e.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: &st.listener})
			return err
		}, "'" + st.listener + "' is not a valid load balancer ARN"},
		{func() error {
			_, err := e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: &st.listener,
				MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &st.tg}})
			return err
		}, "'" + st.tg + "' is not a valid trust store ARN"},
		{func() error {
			_, err := e.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{st.ts}})
			return err
		}, "'" + st.ts + "' is not a valid target group ARN"},
	} {
		if msg := wantCode(t, c.call(), "ValidationError"); msg != c.want {
			t.Errorf("got %q, want %q", msg, c.want)
		}
	}
	lbs, err := e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("load balancers after the refusals: %+v %v", lbs, err)
	}
	ls, err := e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{st.listener}})
	if err != nil || *ls.Listeners[0].MutualAuthentication.TrustStoreArn != st.ts {
		t.Fatalf("listener after the refusals: %+v %v", ls, err)
	}
}

// DeleteSharedTrustStoreAssociation: the endpoint is one account, so an association it holds
// is within that account (DeleteAssociationSameAccount); a load balancer the trust store is
// not associated with is AssociationNotFound; an unknown trust store is TrustStoreNotFound.
// The association stays.
func TestDeleteSharedTrustStoreAssociation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	del := func(ts, resource string) error {
		_, err := e.elb.DeleteSharedTrustStoreAssociation(ctx, &elb.DeleteSharedTrustStoreAssociationInput{TrustStoreArn: &ts, ResourceArn: &resource})
		return err
	}
	if msg := wantCode(t, del(st.ts, st.lb), "DeleteAssociationSameAccount"); msg != "The specified association can't be within the same account." {
		t.Errorf("same account: %q", msg)
	}
	other := strings.Replace(st.lb, "/mtls-demo/", "/other/", 1)
	wantCode(t, del(st.ts, other), "AssociationNotFound")
	wantCode(t, del(strings.Replace(st.ts, "truststore/demo/", "truststore/gone/", 1), st.lb), "TrustStoreNotFound")
	as, err := e.elb.DescribeTrustStoreAssociations(ctx, &elb.DescribeTrustStoreAssociationsInput{TrustStoreArn: &st.ts})
	if err != nil || len(as.TrustStoreAssociations) != 1 || *as.TrustStoreAssociations[0].ResourceArn != st.lb {
		t.Fatalf("associations after the refusals: %+v %v", as, err)
	}
}

// A revocation list that is no CRL is InvalidRevocationContent naming it as the request gave
// it (RevocationContents.member.N and its S3 location), without the code repeated in the
// message; the trust store keeps its revocations.
func TestInvalidRevocationContentNamesTheList(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	if _, err := e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem")}}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.elb.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: &st.ts,
		RevocationContents: []elbtypes.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem")},
			{S3Bucket: aws.String("pki"), S3Key: aws.String("ca.crt")}}})
	msg := wantCode(t, err, "InvalidRevocationContent")
	if !strings.HasPrefix(msg, "RevocationContents.member.2 (s3://pki/ca.crt): ") || strings.Contains(msg, "InvalidRevocationContent") {
		t.Errorf("message %q: want it to name RevocationContents.member.2 (s3://pki/ca.crt) and not repeat the code", msg)
	}
	ts, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{TrustStoreArns: []string{st.ts}})
	if err != nil || *ts.TrustStores[0].TotalRevokedEntries != 1 {
		t.Fatalf("trust store after the refusal: %+v %v", ts, err)
	}
}

// CreateTrustStore beyond ALB's quota of trust stores per account is TooManyTrustStores and
// creates nothing.
func TestTooManyTrustStores(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pki")}); err != nil {
		t.Fatal(err)
	}
	e.put("ca.crt", "ca.crt")
	create := func(i int) error {
		_, err := e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("ts-" + strconv.Itoa(i)),
			CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("ca.crt")})
		return err
	}
	for i := range alb.MaxTrustStores {
		if err := create(i); err != nil {
			t.Fatalf("trust store %d of %d: %v", i+1, alb.MaxTrustStores, err)
		}
	}
	wantCode(t, create(alb.MaxTrustStores), "TooManyTrustStores")
	out, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{})
	if err != nil || len(out.TrustStores) != alb.MaxTrustStores {
		t.Fatalf("after the refusal: %d trust stores, %v", len(out.TrustStores), err)
	}
}

// ACM: DescribeCertificate's InUseBy names each load balancer once, however many of its
// listeners use the certificate; GetCertificate answers the certificate as imported.
func TestACMCertificateInUseByAndGet(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	if _, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(freePort(t)), Certificates: []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}}}); err != nil {
		t.Fatal(err)
	}
	d, err := e.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &st.cert})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Certificate.InUseBy, []string{st.lb}) {
		t.Errorf("InUseBy %v, want [%s] once", d.Certificate.InUseBy, st.lb)
	}
	g, err := e.acm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: &st.cert})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(*g.Certificate) != strings.TrimSpace(string(e.file("server.crt"))) || g.CertificateChain != nil {
		t.Errorf("GetCertificate: %q, chain %v; want server.crt as imported, no chain", *g.Certificate, g.CertificateChain)
	}
	_, err = e.acm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(st.cert + "0")})
	wantCode(t, err, "ResourceNotFoundException")
}

// Tags: CreateTrustStore's Tags are kept; AddTags, RemoveTags and DescribeTags work on load
// balancers, target groups, listeners and trust stores; a key given twice is DuplicateTagKeys,
// an unknown resource its kind's NotFound, and a refused call changes nothing; a deleted
// resource's tags go with it.
func TestTags(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	ts, err := e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("tagged"), CaCertificatesBundleS3Bucket: aws.String("pki"),
		CaCertificatesBundleS3Key: aws.String("ca.crt"), Tags: []elbtypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}})
	if err != nil {
		t.Fatal(err)
	}
	tagged := *ts.TrustStores[0].TrustStoreArn
	tags := func(arns ...string) map[string]string {
		t.Helper()
		out, err := e.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})
		if err != nil {
			t.Fatalf("DescribeTags: %v", err)
		}
		got := map[string]string{}
		for _, d := range out.TagDescriptions {
			for _, tg := range d.Tags {
				got[*d.ResourceArn+" "+*tg.Key] = aws.ToString(tg.Value)
			}
		}
		return got
	}
	if got := tags(tagged); len(got) != 1 || got[tagged+" env"] != "dev" {
		t.Fatalf("CreateTrustStore's tags: %v", got)
	}
	all := []string{st.lb, st.tg, st.listener, st.ts}
	if _, err := e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: all, Tags: []elbtypes.Tag{{Key: aws.String("team"), Value: aws.String("edge")}}}); err != nil {
		t.Fatalf("AddTags: %v", err)
	}
	if got := tags(all...); len(got) != 4 || got[st.listener+" team"] != "edge" {
		t.Fatalf("after AddTags: %v", got)
	}
	_, err = e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{st.lb}, Tags: []elbtypes.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}})
	wantCode(t, err, "DuplicateTagKeys")
	_, err = e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{st.lb, st.tg + "0"}, Tags: []elbtypes.Tag{{Key: aws.String("b"), Value: aws.String("1")}}})
	wantCode(t, err, "TargetGroupNotFound")
	if got := tags(st.lb); len(got) != 1 {
		t.Fatalf("after the refusals: %v", got)
	}
	if _, err := e.elb.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: []string{st.lb}, TagKeys: []string{"team"}}); err != nil {
		t.Fatalf("RemoveTags: %v", err)
	}
	if got := tags(st.lb, st.tg); len(got) != 1 || got[st.tg+" team"] != "edge" {
		t.Fatalf("after RemoveTags: %v", got)
	}
	if _, err := e.elb.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: &tagged}); err != nil {
		t.Fatal(err)
	}
	_, err = e.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{tagged}})
	wantCode(t, err, "TrustStoreNotFound")
}

// A trust store name with two hyphens in a row breaks the TrustStoreName pattern: AWS's
// constraint ValidationError, nothing created. DescribeListenerCertificates answers the
// listener's certificate as its default.
func TestTrustStoreNamePatternAndListenerCertificates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	_, err := e.elb.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("a--b"), CaCertificatesBundleS3Bucket: aws.String("pki"),
		CaCertificatesBundleS3Key: aws.String("ca.crt")})
	if msg := wantCode(t, err, "ValidationError"); !strings.Contains(msg, "Value 'a--b' at 'name' failed to satisfy constraint") {
		t.Errorf("a--b: %q", msg)
	}
	if out, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{}); err != nil || len(out.TrustStores) != 1 {
		t.Fatalf("after the refusal: %+v %v", out, err)
	}
	certs, err := e.elb.DescribeListenerCertificates(ctx, &elb.DescribeListenerCertificatesInput{ListenerArn: &st.listener})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs.Certificates) != 1 || *certs.Certificates[0].CertificateArn != st.cert || !*certs.Certificates[0].IsDefault {
		t.Fatalf("DescribeListenerCertificates: %+v", certs.Certificates)
	}
}

// A load balancer whose two listeners verify with one trust store is one association of it;
// DescribeTrustStores with a name given twice finds the store.
func TestOneAssociationPerLoadBalancer(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	if _, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &st.lb, Protocol: elbtypes.ProtocolEnumHttps,
		Port: aws.Int32(freePort(t)), Certificates: []elbtypes.Certificate{{CertificateArn: &st.cert}},
		DefaultActions:       []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &st.tg}},
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: &st.ts}}); err != nil {
		t.Fatal(err)
	}
	as, err := e.elb.DescribeTrustStoreAssociations(ctx, &elb.DescribeTrustStoreAssociationsInput{TrustStoreArn: &st.ts})
	if err != nil || len(as.TrustStoreAssociations) != 1 || *as.TrustStoreAssociations[0].ResourceArn != st.lb {
		t.Fatalf("associations: %+v %v; want the load balancer once", as, err)
	}
	ts, err := e.elb.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{Names: []string{"demo", "demo"}})
	if err != nil || len(ts.TrustStores) != 1 {
		t.Fatalf("a name given twice: %+v %v", ts, err)
	}
}

// ACM ListCertificates: by default only RSA_1024 and RSA_2048 certificates, as ACM filters;
// Includes.keyTypes widens it; MaxItems pages with NextToken.
func TestACMListCertificates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	st := e.story()
	rsa, err := e.acm.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: e.file("sni-api-rsa.crt"), PrivateKey: e.file("sni-api-rsa.key")})
	if err != nil {
		t.Fatal(err)
	}
	arns := func(in *acm.ListCertificatesInput) (out []string, pages int) {
		t.Helper()
		for p := acm.NewListCertificatesPaginator(e.acm, in); p.HasMorePages(); pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListCertificates: %v", err)
			}
			for _, c := range page.CertificateSummaryList {
				out = append(out, *c.CertificateArn)
				if *c.CertificateArn == st.cert && (c.InUse == nil || !*c.InUse || c.KeyAlgorithm != acmtypes.KeyAlgorithmEcPrime256v1) {
					t.Errorf("the listener's certificate: InUse %v, KeyAlgorithm %s", c.InUse, c.KeyAlgorithm)
				}
			}
		}
		return out, pages
	}
	if got, _ := arns(&acm.ListCertificatesInput{}); !slices.Equal(got, []string{*rsa.CertificateArn}) {
		t.Errorf("default filter: %v, want only the RSA_2048 certificate %s", got, *rsa.CertificateArn)
	}
	both := &acm.ListCertificatesInput{MaxItems: aws.Int32(1), Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmEcPrime256v1}}}
	if got, pages := arns(both); !slices.Equal(got, []string{st.cert, *rsa.CertificateArn}) || pages != 2 {
		t.Errorf("both key types, one per page: %v in %d pages", got, pages)
	}
}
