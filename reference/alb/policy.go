package alb

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsgate/mtlsgate/internal/ciphername"
)

// DefaultPolicy is the policy of an HTTPS listener created without SslPolicy. The emulator's
// configuration is the ELBv2 API's CreateListener, so it takes the API's default: "Other methods
// (for example, the AWS CLI, AWS CloudFormation, and the AWS CDK) – The default security policy
// is ELBSecurityPolicy-2016-08" (describe-ssl-policies). The console's default is
// ConsoleDefaultPolicy.
const DefaultPolicy = "ELBSecurityPolicy-2016-08"

// ConsoleDefaultPolicy is the console's default for a new HTTPS listener (describe-ssl-policies).
const ConsoleDefaultPolicy = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"

// TargetPolicy is the policy ALB uses towards HTTPS targets behind a listener with a TLS 1.3
// policy (SPEC A-TG-1); BackendPolicy gives it for any listener.
const TargetPolicy = "ELBSecurityPolicy-TLS13-1-0-2021-06"

// The other back-end policies of describe-ssl-policies.
const (
	targetPolicyFIPS   = "ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04"
	targetPolicyLegacy = "ELBSecurityPolicy-2016-08"
)

// BackendPolicy is the policy ALB uses towards HTTPS targets behind a listener with policy p:
// "If the HTTPS listener uses a TLS 1.3 security policy, backend connections use the
// ELBSecurityPolicy-TLS13-1-0-2021-06 policy. If the HTTPS listener uses a FIPS policy, backend
// connections use the ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04 policy. Otherwise, backend
// connections use the ELBSecurityPolicy-2016-08 policy." (describe-ssl-policies). A FIPS policy
// is also a TLS 1.3 policy; FIPS wins, as the more specific sentence.
func BackendPolicy(p Policy) string {
	switch {
	case strings.Contains(p.Name, "-FIPS-"):
		return targetPolicyFIPS
	case p.MaxVersion == tls.VersionTLS13:
		return TargetPolicy
	}
	return targetPolicyLegacy
}

// Policy is one ELB security policy as crypto/tls can serve it.
type Policy struct {
	Name string
	// MinVersion and MaxVersion bound the protocol versions.
	MinVersion, MaxVersion uint16
	// Ciphers are the TLS 1.0–1.2 suites, in OpenSSL names, in the policy's order. Suites Go does
	// not implement (ECDHE-*-AES256-SHA384, AES256-SHA256) are listed in Unsupported instead.
	// DES-CBC3-SHA (ELBSecurityPolicy-TLS-1-0-2015-04 only) Go implements and serves when listed.
	Ciphers     []string
	Unsupported []string
	// Listed are the TLS 1.0–1.2 suites in the policy's own order, supported by Go or not, as
	// DescribeSSLPolicies lists them.
	Listed []string
	// TLS13Ciphers are the TLS 1.3 suites the policy allows. Go always offers all three TLS 1.3
	// suites; see NoChaCha20.
	TLS13Ciphers []string
	// NoChaCha20 marks the FIPS policy. crypto/tls cannot leave CHACHA20 out of TLS 1.3, so the
	// emulator refuses clients that offer no AES-GCM suite and closes (logged as a failure) a
	// connection that negotiated CHACHA20 anyway: the client sees its handshake complete, then
	// the connection end, where ALB would fail the handshake.
	NoChaCha20 bool
	// Groups are the key exchange groups in preference order.
	Groups []tls.CurveID
}

// The cipher sets of ELB's security policies (describe-ssl-policies): the TLS 1.3 ones (2021-06
// generation and later), ELBSecurityPolicy-2016-08 and the pre-2021 TLS-* and FS-* policies.
func policyTable() []Policy {
	tls13 := []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
	groups := []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
	ecdheGCM := []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}
	std := []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384"}
	ext1 := append(slices.Clone(std), "AES128-GCM-SHA256", "AES128-SHA256", "AES256-GCM-SHA384", "AES256-SHA256")
	ext2 := append(slices.Clone(ext1), "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "AES128-SHA", "AES256-SHA")
	mk := func(name string, minV uint16, ciphers []string) Policy {
		p := Policy{Name: name, MinVersion: minV, MaxVersion: tls.VersionTLS13, TLS13Ciphers: tls13, Groups: groups, Listed: ciphers}
		for _, c := range ciphers {
			if _, ok := goSuite(c); ok {
				p.Ciphers = append(p.Ciphers, c)
			} else {
				p.Unsupported = append(p.Unsupported, c)
			}
		}
		return p
	}
	fips := mk("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", tls.VersionTLS13, nil)
	fips.TLS13Ciphers, fips.NoChaCha20 = tls13[:2], true
	fips.Groups = []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521}
	pq := mk("ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", tls.VersionTLS13, nil)
	pq.Groups = append([]tls.CurveID{tls.X25519MLKEM768}, groups...)
	resPQ := mk(ConsoleDefaultPolicy, tls.VersionTLS12, ecdheGCM)
	resPQ.Groups = pq.Groups
	// ELBSecurityPolicy-2016-08: TLS 1.0–1.2, no TLS 1.3; the API's default listener policy and
	// the back-end policy behind listeners without TLS 1.3.
	legacy := mk(targetPolicyLegacy, tls.VersionTLS10, []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
		"ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
		"AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA"})
	legacy.MaxVersion, legacy.TLS13Ciphers = tls.VersionTLS12, nil
	// The pre-2021 policies ELB still lists and accepts (describe-ssl-policies: "FS supported
	// policies", "TLS security policies"): TLS 1.0–1.2 at most, no TLS 1.3, each a subset of
	// ELBSecurityPolicy-2016-08's suites in its order, ELBSecurityPolicy-TLS-1-0-2015-04 adding
	// DES-CBC3-SHA. ECDHE-*-AES256-SHA384 and AES256-SHA256 land in Unsupported, as in mk.
	tls12Only := func(name string, minV uint16, keep func(cipher string) bool) Policy {
		var ciphers []string
		for _, c := range append(slices.Clone(legacy.Listed), "DES-CBC3-SHA") {
			if keep(c) {
				ciphers = append(ciphers, c)
			}
		}
		p := mk(name, minV, ciphers)
		p.MaxVersion, p.TLS13Ciphers = tls.VersionTLS12, nil
		return p
	}
	all := func(c string) bool { return c != "DES-CBC3-SHA" }
	noSHA1 := func(c string) bool { return all(c) && !strings.HasSuffix(c, "-SHA") }
	fs := func(c string) bool { return strings.HasPrefix(c, "ECDHE-") }
	fsNoSHA1 := func(c string) bool { return fs(c) && noSHA1(c) }
	fsGCM := func(c string) bool { return fs(c) && strings.Contains(c, "-GCM-") }
	// ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04, the back-end policy behind FIPS listeners: TLS
	// 1.0–1.3, AES suites only, NIST curves (mtlsgate takes its TLS 1.2 suites as Ext2's AES set).
	fipsBackend := mk(targetPolicyFIPS, tls.VersionTLS10, ext2)
	fipsBackend.TLS13Ciphers, fipsBackend.NoChaCha20, fipsBackend.Groups = fips.TLS13Ciphers, true, fips.Groups
	return []Policy{
		mk("ELBSecurityPolicy-TLS13-1-3-2021-06", tls.VersionTLS13, nil),
		mk("ELBSecurityPolicy-TLS13-1-2-2021-06", tls.VersionTLS12, std),
		mk("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", tls.VersionTLS12, ecdheGCM),
		mk("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", tls.VersionTLS12, ext1),
		mk("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", tls.VersionTLS12, ext2),
		mk("ELBSecurityPolicy-TLS13-1-1-2021-06", tls.VersionTLS11, ext2),
		mk("ELBSecurityPolicy-TLS13-1-0-2021-06", tls.VersionTLS10, ext2),
		fips,
		pq,
		resPQ,
		legacy,
		fipsBackend,
		// In the order of describe-ssl-policies' own listing (AWS CLI example).
		tls12Only("ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS12, noSHA1),
		tls12Only("ELBSecurityPolicy-TLS-1-1-2017-01", tls.VersionTLS11, all),
		tls12Only("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", tls.VersionTLS12, all),
		tls12Only("ELBSecurityPolicy-FS-2018-06", tls.VersionTLS10, fs),
		// "identical to ELBSecurityPolicy-2016-08".
		tls12Only("ELBSecurityPolicy-2015-05", tls.VersionTLS10, all),
		tls12Only("ELBSecurityPolicy-TLS-1-0-2015-04", tls.VersionTLS10, func(string) bool { return true }),
		tls12Only("ELBSecurityPolicy-FS-1-2-Res-2019-08", tls.VersionTLS12, fsNoSHA1),
		tls12Only("ELBSecurityPolicy-FS-1-1-2019-08", tls.VersionTLS11, fs),
		tls12Only("ELBSecurityPolicy-FS-1-2-2019-08", tls.VersionTLS12, fs),
		tls12Only("ELBSecurityPolicy-FS-1-2-Res-2020-10", tls.VersionTLS12, fsGCM),
	}
}

// Policies lists the security policies the emulator knows, in ELB's order.
func Policies() []Policy { return policyTable() }

// LookupPolicy returns the policy of that name; an unknown name is an error listing the known ones.
func LookupPolicy(name string) (Policy, error) {
	if name == "" {
		name = DefaultPolicy
	}
	for _, p := range policyTable() {
		if p.Name == name {
			return p, nil
		}
	}
	var names []string
	for _, p := range policyTable() {
		names = append(names, p.Name)
	}
	return Policy{}, fmt.Errorf("SslPolicy %q is not a security policy the emulator knows; use one of %s", name, strings.Join(names, ", "))
}

// apply sets the policy's versions, suites and groups on c.
func (p Policy) apply(c *tls.Config) {
	c.MinVersion, c.MaxVersion = p.MinVersion, p.MaxVersion
	c.CipherSuites = nil
	for _, name := range p.Ciphers {
		if id, ok := goSuite(name); ok {
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	c.CurvePreferences = slices.Clone(p.Groups)
}

// OpenSSLCipherName is a suite's OpenSSL name, as ALB's connection log writes it.
func OpenSSLCipherName(id uint16) string {
	if n, ok := ciphername.Name(id); ok {
		return n
	}
	return tls.CipherSuiteName(id)
}

// goSuite is the crypto/tls ID of a suite a policy lists by its OpenSSL name.
func goSuite(openssl string) (uint16, bool) { return ciphername.ID(openssl) }

// ProtocolName is a version as ALB's log writes it: TLSv1.2, TLSv1.3.
func ProtocolName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "-"
}

// GroupName is a key exchange group in OpenSSL's name, as the log's tls_keyexchange writes it.
func GroupName(id tls.CurveID) string {
	switch id {
	case 0:
		return "-"
	case tls.CurveP256:
		return "secp256r1"
	case tls.CurveP384:
		return "secp384r1"
	case tls.CurveP521:
		return "secp521r1"
	}
	return id.String()
}
