package alb

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// The ELBv2 API's facts about trust stores and target health that the emulator's API endpoint
// (reference/alb/elbv2api) reports; they live here beside the rules they describe.

// APIVersion is the ELBv2 Query API version the endpoint speaks.
const APIVersion = "2015-12-01"

// Target health for a target group no listener forwards to (DescribeTargetHealth).
const (
	StateNotInUse       = "unused"
	ReasonNotInUse      = "Target.NotInUse"
	DescriptionNotInUse = "Target group is not configured to receive traffic from the load balancer"
)

// MaxTrustStores is ALB's default quota of trust stores per account and region ("Trust stores
// per account", Quotas for your Application Load Balancers); CreateTrustStore beyond it is
// TooManyTrustStores.
const MaxTrustStores = 20

// RevocationTypeCRL is the only revocation type ALB knows.
const RevocationTypeCRL = "CRL"

// TrustStoreSummary is what a trust store holds once its bundle and revocation lists are checked.
type TrustStoreSummary struct {
	// CACertificates is NumberOfCaCertificates.
	CACertificates int
	// RevokedEntries is the NumberOfRevokedEntries of each list, in order.
	RevokedEntries []int
}

// Total is TotalRevokedEntries.
func (s TrustStoreSummary) Total() int {
	n := 0
	for _, e := range s.RevokedEntries {
		n += e
	}
	return n
}

// CheckTrustStore applies ALB's trust store rules (SPEC A-TS-1, A-TS-2) to a CA bundle and its
// revocation lists given as bytes, as CreateTrustStore and AddTrustStoreRevocations do before
// anything changes. The error starts with ALB's text (InvalidCaCertificatesBundle…,
// InvalidRevocationContent…, or the basic-constraints message).
func CheckTrustStore(bundle []byte, crls [][]byte) (TrustStoreSummary, error) {
	cas, err := ParseCABundle(bundle)
	if err != nil {
		return TrustStoreSummary{}, err
	}
	if len(crls) > MaxRevocationLists {
		return TrustStoreSummary{}, fmt.Errorf("%s: %d revocation lists; a trust store takes at most %d", ErrTextInvalidRevocation, len(crls), MaxRevocationLists)
	}
	t := &trustStore{cas: cas, pool: x509.NewCertPool(), revoked: map[string]map[string]bool{}}
	out := TrustStoreSummary{CACertificates: len(cas)}
	for i, b := range crls {
		before := t.entries
		if err := t.addCRL(b); err != nil {
			return TrustStoreSummary{}, fmt.Errorf("revocation list %d: %w", i+1, err)
		}
		out.RevokedEntries = append(out.RevokedEntries, t.entries-before)
	}
	return out, nil
}

// TooManyRevocationEntries reports whether err is CheckTrustStore's refusal for the store-wide
// entry limit (the API's TooManyTrustStoreRevocationEntries).
func TooManyRevocationEntries(err error) bool {
	return err != nil && strings.Contains(err.Error(), fmt.Sprintf("more than %d revoked entries", MaxRevocationEntries))
}

// CheckLoadBalancerAttributes applies the load balancer attribute rules the emulator enforces
// (the keys it applies and their ranges), as ModifyLoadBalancerAttributes does before anything
// changes. The error names the attribute.
func CheckLoadBalancerAttributes(attrs []Attribute) error {
	_, err := parseLBAttributes(attrs)
	return err
}
