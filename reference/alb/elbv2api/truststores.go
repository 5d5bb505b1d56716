package elbv2api

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

// blobPathPrefix is where GetTrustStoreCaCertificatesBundle and GetTrustStoreRevocationContent
// point (AWS answers with a presigned S3 URL; the emulator with a URL on itself).
const blobPathPrefix = "/_mtlsgate/trust-store-content/"

// bundleError turns ALB's bundle refusal into the API's InvalidCaCertificatesBundle.
func bundleError(err error) *apiError {
	msg := strings.TrimPrefix(err.Error(), "InvalidCaCertificatesBundle: ")
	return fault("InvalidCaCertificatesBundle", "%s", msg)
}

// revocationError turns ALB's revocation refusal into the API's error; the code is the
// error's, not repeated in its message.
func revocationError(err error) *apiError {
	msg := strings.ReplaceAll(err.Error(), alb.ErrTextInvalidRevocation+": ", "")
	if alb.TooManyRevocationEntries(err) {
		return fault("TooManyTrustStoreRevocationEntries", "%s", msg)
	}
	return fault("InvalidRevocationContent", "%s", msg)
}

// trustStoreNameRE is the TrustStoreName shape's pattern: ELB's naming rule, and no two hyphens
// in a row.
var trustStoreNameRE = regexp.MustCompile(`^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$`)

// s3Content reads an object a trust store call names; missing is notFound.
func (s *Server) s3Content(m *model, bucketName, key, version, notFound, what string) ([]byte, string, *apiError) {
	if bucketName == "" || key == "" {
		return nil, "", validation("%s: give the S3 bucket and key", what)
	}
	if version != "" {
		return nil, "", validation("%s: S3 object versions are not emulated; leave the version out", what)
	}
	b := m.Buckets[bucketName]
	if b == nil || b.Objects[key] == nil {
		return nil, "", fault(notFound, "%s s3://%s/%s was not found", what, bucketName, key)
	}
	content, err := s.store.blob(b.Objects[key].Blob)
	if err != nil {
		return nil, "", &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	return content, b.Objects[key].Blob, nil
}

func (s *Server) crls(ts *trustStore) ([][]byte, *apiError) {
	var out [][]byte
	for _, r := range ts.Revocations {
		b, err := s.store.blob(r.Blob)
		if err != nil {
			return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
		}
		out = append(out, b)
	}
	return out, nil
}

func xTS(ts *trustStore) xTrustStore {
	total := int64(0)
	for _, r := range ts.Revocations {
		total += int64(r.Entries)
	}
	return xTrustStore{Name: ts.Name, TrustStoreArn: ts.Arn, Status: "ACTIVE", NumberOfCaCertificates: ts.CACertificates, TotalRevokedEntries: total}
}

func trustStoresResult(xs []xTrustStore) any {
	return struct {
		TrustStores []xTrustStore `xml:"TrustStores>member"`
	}{xs}
}

func (s *Server) createTrustStore(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in trustStoreIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.TrustStoreArn != "" {
		return nil, validation("Unknown parameter \"TrustStoreArn\": CreateTrustStore takes a Name")
	}
	if err := checkName("Name", in.Name); err != nil {
		return nil, err
	}
	if !trustStoreNameRE.MatchString(in.Name) {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", in.Name, trustStoreNameRE)
	}
	var out *trustStore
	err := s.change(ctx, func(m *model) *apiError {
		for _, ts := range m.TrustStores {
			if ts.Name == in.Name {
				return fault("DuplicateTrustStoreName", "A trust store with the name '%s' already exists", in.Name)
			}
		}
		if len(m.TrustStores) >= alb.MaxTrustStores {
			return fault("TooManyTrustStores", "You've reached the limit on the number of trust stores for your Amazon Web Services account (%d); delete one first", alb.MaxTrustStores)
		}
		bundle, blob, err := s.s3Content(m, in.CaCertificatesBundleS3Bucket, in.CaCertificatesBundleS3Key, in.CaCertificatesBundleS3ObjectVersion,
			"CaCertificatesBundleNotFound", "The CA certificates bundle")
		if err != nil {
			return err
		}
		sum, cerr := alb.CheckTrustStore(bundle, nil)
		if cerr != nil {
			return bundleError(cerr)
		}
		m.Seq++
		out = &trustStore{Seq: m.Seq, Arn: s.arn("truststore", in.Name), Name: in.Name, Bundle: blob, CACertificates: sum.CACertificates, NextRevocation: 1}
		m.TrustStores[out.Arn] = out
		return addTags(m, out.Arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return trustStoresResult([]xTrustStore{xTS(out)}), nil
}

func (s *Server) modifyTrustStore(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in trustStoreIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.Name != "" || in.Tags != nil {
		return nil, validation("ModifyTrustStore takes a TrustStoreArn and the bundle's S3 location, not a Name or Tags")
	}
	var out *trustStore
	err := changeOne(ctx, s, trustStoreKind, in.TrustStoreArn, func(m *model, ts *trustStore) *apiError {
		bundle, blob, err := s.s3Content(m, in.CaCertificatesBundleS3Bucket, in.CaCertificatesBundleS3Key, in.CaCertificatesBundleS3ObjectVersion,
			"CaCertificatesBundleNotFound", "The CA certificates bundle")
		if err != nil {
			return err
		}
		if _, cerr := alb.ParseCABundle(bundle); cerr != nil {
			return bundleError(cerr)
		}
		crls, err := s.crls(ts)
		if err != nil {
			return err
		}
		sum, cerr := alb.CheckTrustStore(bundle, crls)
		if cerr != nil {
			return revocationError(cerr)
		}
		ts.Bundle, ts.CACertificates = blob, sum.CACertificates
		out = ts
		return nil
	})
	if err != nil {
		return nil, err
	}
	return trustStoresResult([]xTrustStore{xTS(out)}), nil
}

func (s *Server) describeTrustStores(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		TrustStoreArns []string
		Names          []string
		Marker         string
		PageSize       *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	var out []xTrustStore
	for _, ts := range sorted(m.TrustStores, func(t *trustStore) int64 { return t.Seq }) {
		if (len(in.TrustStoreArns) == 0 || slices.Contains(in.TrustStoreArns, ts.Arn)) && (len(in.Names) == 0 || slices.Contains(in.Names, ts.Name)) {
			out = append(out, xTS(ts))
		}
	}
	for _, arn := range in.TrustStoreArns {
		if m.TrustStores[arn] == nil {
			return nil, errNotFound(trustStores)
		}
	}
	for _, n := range in.Names {
		if !slices.ContainsFunc(out, func(x xTrustStore) bool { return x.Name == n }) {
			return nil, errNotFound(trustStores)
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		TrustStores []xTrustStore `xml:"TrustStores>member"`
		NextMarker  string        `xml:",omitempty"`
	}{out, next}, nil
}

func (s *Server) deleteTrustStore(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ TrustStoreArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	return nil, changeOne(ctx, s, trustStoreKind, in.TrustStoreArn, func(m *model, _ *trustStore) *apiError {
		for _, l := range m.Listeners {
			if l.Mutual.TrustStoreArn == in.TrustStoreArn {
				return fault("TrustStoreInUse", "Trust store '%s' is in use by listener '%s'; change the listener's mutual authentication first", in.TrustStoreArn, l.Arn)
			}
		}
		delete(m.TrustStores, in.TrustStoreArn)
		dropTags(m)
		return nil
	})
}

func (s *Server) describeTrustStoreAssociations(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		TrustStoreArn string
		Marker        string
		PageSize      *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	if m.TrustStores[in.TrustStoreArn] == nil {
		return nil, errNotFound(trustStores)
	}
	type assoc struct{ ResourceArn string }
	var out []assoc
	for _, l := range sorted(m.Listeners, func(l *listener) int64 { return l.Seq }) {
		// One association per load balancer, however many of its listeners use the store.
		if l.Mutual.TrustStoreArn == in.TrustStoreArn && !slices.Contains(out, assoc{l.LoadBalancerArn}) {
			out = append(out, assoc{l.LoadBalancerArn})
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		TrustStoreAssociations []assoc `xml:"TrustStoreAssociations>member"`
		NextMarker             string  `xml:",omitempty"`
	}{out, next}, nil
}

// deleteSharedTrustStoreAssociation is DeleteSharedTrustStoreAssociation: it removes the
// association of a trust store shared from another account (AWS RAM) with a load balancer. The
// endpoint is one account, so every association it holds is within that account, which ELBv2
// refuses with DeleteAssociationSameAccount; a load balancer the trust store is not associated
// with is AssociationNotFound. Nothing changes either way.
func (s *Server) deleteSharedTrustStoreAssociation(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ TrustStoreArn, ResourceArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.ResourceArn == "" {
		return nil, validation("ResourceArn is required")
	}
	m := s.snapshot()
	if m.TrustStores[in.TrustStoreArn] == nil {
		return nil, errNotFound(trustStores)
	}
	for _, l := range m.Listeners {
		if l.Mutual.TrustStoreArn == in.TrustStoreArn && l.LoadBalancerArn == in.ResourceArn {
			return nil, fault("DeleteAssociationSameAccount", "The specified association can't be within the same account.")
		}
	}
	return nil, fault("AssociationNotFound", "The specified association does not exist.")
}

// contentURL is where a trust store's content can be fetched from this endpoint.
func contentURL(r *http.Request, blob string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + blobPathPrefix + blob
}

func (s *Server) getTrustStoreBundle(_ context.Context, form url.Values, r *http.Request) (any, *apiError) {
	var in struct{ TrustStoreArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	ts := s.snapshot().TrustStores[in.TrustStoreArn]
	if ts == nil {
		return nil, errNotFound(trustStores)
	}
	return struct{ Location string }{contentURL(r, ts.Bundle)}, nil
}

func (s *Server) addRevocations(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in revocationsIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.RevocationContents) == 0 {
		return nil, validation("RevocationContents: give at least one revocation list")
	}
	var out []xRevocation
	err := changeOne(ctx, s, trustStoreKind, in.TrustStoreArn, func(m *model, ts *trustStore) *apiError {
		crls, err := s.crls(ts)
		if err != nil {
			return err
		}
		bundle, berr := s.store.blob(ts.Bundle)
		if berr != nil {
			return &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: berr.Error()}
		}
		var blobs []string
		for i, rc := range in.RevocationContents {
			if rc.RevocationType != "" && rc.RevocationType != alb.RevocationTypeCRL {
				return validation("RevocationType '%s' must be CRL", rc.RevocationType)
			}
			b, blob, err := s.s3Content(m, rc.S3Bucket, rc.S3Key, rc.S3ObjectVersion, "RevocationContentNotFound", "The revocation content")
			if err != nil {
				return err
			}
			// Each list on its own first, so a refusal names the list as the request gave it.
			if _, cerr := alb.CheckTrustStore(bundle, [][]byte{b}); cerr != nil && !alb.TooManyRevocationEntries(cerr) {
				detail := strings.TrimPrefix(revocationError(cerr).Message, "revocation list 1: ")
				return fault("InvalidRevocationContent", "RevocationContents.member.%d (s3://%s/%s): %s", i+1, rc.S3Bucket, rc.S3Key, detail)
			}
			crls = append(crls, b)
			blobs = append(blobs, blob)
		}
		sum, cerr := alb.CheckTrustStore(bundle, crls)
		if cerr != nil {
			return revocationError(cerr)
		}
		first := len(ts.Revocations)
		for i, blob := range blobs {
			r := revocation{ID: ts.NextRevocation, Type: alb.RevocationTypeCRL, Blob: blob, Entries: sum.RevokedEntries[first+i]}
			ts.NextRevocation++
			ts.Revocations = append(ts.Revocations, r)
			out = append(out, xRev(ts, r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return revocationsResult(out), nil
}

// revocationIndex finds revocation id in ts, or answers ELBv2's RevocationIdNotFound.
func revocationIndex(ts *trustStore, id int64) (int, *apiError) {
	i := slices.IndexFunc(ts.Revocations, func(r revocation) bool { return r.ID == id })
	if i < 0 {
		return 0, fault("RevocationIdNotFound", "Revocation ID '%d' not found in trust store '%s'", id, ts.Arn)
	}
	return i, nil
}

func xRev(ts *trustStore, r revocation) xRevocation {
	return xRevocation{TrustStoreArn: ts.Arn, RevocationId: r.ID, RevocationType: r.Type, NumberOfRevokedEntries: int64(r.Entries)}
}

func revocationsResult(xs []xRevocation) any {
	return struct {
		TrustStoreRevocations []xRevocation `xml:"TrustStoreRevocations>member"`
	}{xs}
}

func (s *Server) describeRevocations(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in revocationsIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	ts := s.snapshot().TrustStores[in.TrustStoreArn]
	if ts == nil {
		return nil, errNotFound(trustStores)
	}
	var out []xRevocation
	for _, id := range in.RevocationIds {
		if _, err := revocationIndex(ts, id); err != nil {
			return nil, err
		}
	}
	for _, r := range ts.Revocations {
		if len(in.RevocationIds) == 0 || slices.Contains(in.RevocationIds, r.ID) {
			out = append(out, xRev(ts, r))
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		TrustStoreRevocations []xRevocation `xml:"TrustStoreRevocations>member"`
		NextMarker            string        `xml:",omitempty"`
	}{out, next}, nil
}

func (s *Server) removeRevocations(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in revocationsIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.RevocationIds) == 0 {
		return nil, validation("RevocationIds: give at least one revocation ID")
	}
	return nil, changeOne(ctx, s, trustStoreKind, in.TrustStoreArn, func(m *model, ts *trustStore) *apiError {
		for _, id := range in.RevocationIds {
			i, err := revocationIndex(ts, id)
			if err != nil {
				return err
			}
			ts.Revocations = slices.Delete(ts.Revocations, i, i+1)
		}
		return nil
	})
}

func (s *Server) getRevocationContent(_ context.Context, form url.Values, r *http.Request) (any, *apiError) {
	var in revocationsIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	ts := s.snapshot().TrustStores[in.TrustStoreArn]
	if ts == nil {
		return nil, errNotFound(trustStores)
	}
	if in.RevocationId == nil {
		return nil, validation("RevocationId is required")
	}
	for _, rev := range ts.Revocations {
		if rev.ID == *in.RevocationId {
			return struct{ Location string }{contentURL(r, rev.Blob)}, nil
		}
	}
	return nil, fault("RevocationIdNotFound", "Revocation ID '%d' not found in trust store '%s'", *in.RevocationId, ts.Arn)
}

// serveBlob serves a trust store's bundle or revocation list by its content name; nothing
// else (certificate keys above all) is reachable this way.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	sum := strings.TrimPrefix(r.URL.Path, blobPathPrefix)
	m := s.snapshot()
	public := false
	for _, ts := range m.TrustStores {
		if ts.Bundle == sum || slices.ContainsFunc(ts.Revocations, func(rv revocation) bool { return rv.Blob == sum }) {
			public = true
		}
	}
	if !public || r.Method != http.MethodGet {
		http.Error(w, "no trust store content by that name", http.StatusNotFound)
		return
	}
	b, err := s.store.blob(sum)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
}
