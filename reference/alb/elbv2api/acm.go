package elbv2api

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/internal/certinfo"
)

// writeJSONError writes an AWS JSON 1.1 error (ACM's protocol).
func writeJSONError(w http.ResponseWriter, rid string, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", rid)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

func acmErr(code, format string, args ...any) *apiError {
	return fault(code, format, args...)
}

// serveACM answers ACM's ImportCertificate, DescribeCertificate, GetCertificate,
// ListCertificates and DeleteCertificate.
func (s *Server) serveACM(w http.ResponseWriter, r *http.Request, rid, target string) {
	op, ok := strings.CutPrefix(target, "CertificateManager.")
	if !ok || r.Method != http.MethodPost {
		writeJSONError(w, rid, acmErr("UnknownOperationException", "X-Amz-Target %q: the endpoint answers CertificateManager.ImportCertificate, DescribeCertificate and DeleteCertificate", target))
		return
	}
	body, tooBig, err := readBody(r, MaxQueryBody)
	if err != nil || tooBig {
		writeJSONError(w, rid, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Message: fmt.Sprintf("The request body is unreadable or exceeds %d bytes", MaxQueryBody)})
		return
	}
	var out any
	var aerr *apiError
	switch op {
	case "ImportCertificate":
		out, aerr = s.importCertificate(r, body)
	case "DescribeCertificate":
		out, aerr = s.describeCertificate(body)
	case "DeleteCertificate":
		out, aerr = s.deleteCertificate(r, body)
	case "GetCertificate":
		out, aerr = s.getCertificate(body)
	case "ListCertificates":
		out, aerr = s.listCertificates(body)
	default:
		aerr = acmErr("UnknownOperationException", "CertificateManager.%s is not emulated; the endpoint answers ImportCertificate, DescribeCertificate, GetCertificate, ListCertificates and DeleteCertificate", op)
	}
	if aerr != nil {
		writeJSONError(w, rid, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", rid)
	_ = json.NewEncoder(w).Encode(out)
}

// decodeJSON decodes a JSON 1.1 body strictly: unknown fields are a ValidationException.
func decodeJSON(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return acmErr("ValidationException", "The request body is not valid for this operation: %v", err)
	}
	return nil
}

func (s *Server) importCertificate(r *http.Request, body []byte) (any, *apiError) {
	var in struct {
		Certificate, PrivateKey, CertificateChain []byte
		CertificateArn                            string
		Tags                                      []struct{ Key, Value string }
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Certificate) == 0 || len(in.PrivateKey) == 0 {
		return nil, acmErr("ValidationException", "Certificate and PrivateKey are required (PEM, e.g. --certificate fileb://cert.pem --private-key fileb://key.pem)")
	}
	leaf, rest := pem.Decode(in.Certificate)
	if leaf == nil || leaf.Type != "CERTIFICATE" {
		return nil, acmErr("ValidationException", "The certificate field must hold one PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		// ACM's wording, as AWS's import troubleshooting page quotes it.
		return nil, acmErr("ValidationException", "The certificate field contains more than one certificate. You can specify only one certificate in this field. Put the intermediates in CertificateChain.")
	}
	pair, err := tls.X509KeyPair(append(append([]byte{}, in.Certificate...), in.CertificateChain...), in.PrivateKey)
	if err != nil {
		return nil, acmErr("ValidationException", "The certificate and private key do not form a pair: %v", err)
	}
	switch pair.PrivateKey.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, acmErr("ValidationException", "The private key is not supported: use RSA or ECDSA")
	}
	chain := append(append(bytes.TrimSpace(in.Certificate), '\n'), in.CertificateChain...)
	cert, err := s.store.putBlob(chain)
	if err != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	key, err := s.store.putBlob(in.PrivateKey)
	if err != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	var arn string
	aerr := s.change(r.Context(), func(m *model) *apiError {
		arn = in.CertificateArn
		if arn != "" {
			if m.Certificates[arn] == nil {
				return acmErr("ResourceNotFoundException", "Could not find certificate %s.", arn)
			}
		} else {
			h := randomHex(32)
			arn = fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s-%s-%s-%s-%s", s.opts.Region, s.opts.AccountID, h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
		}
		m.Certificates[arn] = &certificate{Arn: arn, Cert: cert, Key: key, Imported: time.Now()}
		return nil
	})
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"CertificateArn": arn}, nil
}

func (s *Server) describeCertificate(body []byte) (any, *apiError) {
	var in struct{ CertificateArn string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	c := m.Certificates[in.CertificateArn]
	if c == nil {
		return nil, acmErr("ResourceNotFoundException", "Could not find certificate %s.", in.CertificateArn)
	}
	f, aerr := s.certFacts(m, c)
	if aerr != nil {
		return nil, aerr
	}
	leaf := f.leaf
	return map[string]any{"Certificate": map[string]any{
		"CertificateArn": c.Arn, "DomainName": f.domain, "SubjectAlternativeNames": leaf.DNSNames,
		"Serial": certinfo.SerialHex(leaf), "Subject": leaf.Subject.String(), "Issuer": leaf.Issuer.String(),
		"ImportedAt": c.Imported.Unix(), "CreatedAt": c.Imported.Unix(), "Status": f.status, "Type": "IMPORTED",
		"NotBefore": leaf.NotBefore.Unix(), "NotAfter": leaf.NotAfter.Unix(), "InUseBy": orEmpty(f.inUse),
		"KeyAlgorithm": keyAlgorithm(leaf), "SignatureAlgorithm": strings.ToUpper(strings.ReplaceAll(leaf.SignatureAlgorithm.String(), "-", "")),
	}}, nil
}

// certFacts is what DescribeCertificate and ListCertificates say about an imported certificate.
type certFacts struct {
	leaf           *x509.Certificate
	domain, status string
	// inUse are the load balancers whose listeners use it, each once.
	inUse []string
}

func (s *Server) certFacts(m *model, c *certificate) (certFacts, *apiError) {
	pemBytes, err := s.store.blob(c.Cert)
	if err != nil {
		return certFacts{}, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	p, _ := pem.Decode(pemBytes)
	if p == nil {
		return certFacts{}, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "the stored certificate is not PEM"}
	}
	leaf, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		return certFacts{}, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	f := certFacts{leaf: leaf, domain: leaf.Subject.CommonName, status: "ISSUED"}
	for _, l := range sorted(m.Listeners, func(l *listener) int64 { return l.Seq }) {
		for _, a := range l.Certificates {
			// InUseBy lists each load balancer once, however many of its listeners use it.
			if a == c.Arn && !slices.Contains(f.inUse, l.LoadBalancerArn) {
				f.inUse = append(f.inUse, l.LoadBalancerArn)
			}
		}
	}
	if f.domain == "" && len(leaf.DNSNames) > 0 {
		f.domain = leaf.DNSNames[0]
	}
	if time.Now().After(leaf.NotAfter) {
		f.status = "EXPIRED"
	}
	return f, nil
}

// defaultListKeyTypes are the key types ListCertificates answers when Includes.keyTypes is not
// given: "Default filtering returns only RSA_1024 and RSA_2048 certificates that have at least
// one domain" (ACM API reference, Filters).
var defaultListKeyTypes = []string{"RSA_1024", "RSA_2048"}

// listCertificates is ListCertificates: the imported certificates in import order, filtered by
// CertificateStatuses and Includes.keyTypes (ACM's default: RSA_1024 and RSA_2048 only), paged
// by MaxItems and NextToken.
func (s *Server) listCertificates(body []byte) (any, *apiError) {
	var in struct {
		CertificateStatuses []string
		Includes            *struct {
			ExtendedKeyUsage []string `json:"extendedKeyUsage"`
			KeyUsage         []string `json:"keyUsage"`
			KeyTypes         []string `json:"keyTypes"`
			ExportOption     string   `json:"exportOption"`
			ManagedBy        string   `json:"managedBy"`
		}
		NextToken string
		MaxItems  *int
		SortBy    string
		SortOrder string
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.MaxItems != nil && (*in.MaxItems < 1 || *in.MaxItems > 1000) {
		return nil, acmErr("ValidationException", "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", *in.MaxItems)
	}
	keyTypes := defaultListKeyTypes
	if in.Includes != nil && len(in.Includes.KeyTypes) > 0 {
		keyTypes = in.Includes.KeyTypes
	}
	m := s.snapshot()
	certs := make([]*certificate, 0, len(m.Certificates))
	for _, c := range m.Certificates {
		certs = append(certs, c)
	}
	slices.SortFunc(certs, func(a, b *certificate) int {
		if c := a.Imported.Compare(b.Imported); c != 0 {
			return c
		}
		return strings.Compare(a.Arn, b.Arn)
	})
	summaries := []map[string]any{}
	for _, c := range certs {
		f, aerr := s.certFacts(m, c)
		if aerr != nil {
			return nil, aerr
		}
		alg := keyAlgorithm(f.leaf)
		if !slices.Contains(keyTypes, alg) || (len(in.CertificateStatuses) > 0 && !slices.Contains(in.CertificateStatuses, f.status)) {
			continue
		}
		sans := orEmpty(slices.Clone(f.leaf.DNSNames))
		summaries = append(summaries, map[string]any{
			"CertificateArn": c.Arn, "DomainName": f.domain, "SubjectAlternativeNameSummaries": sans,
			"HasAdditionalSubjectAlternativeNames": false, "Status": f.status, "Type": "IMPORTED", "KeyAlgorithm": alg,
			"InUse": len(f.inUse) > 0, "RenewalEligibility": "INELIGIBLE", "NotBefore": f.leaf.NotBefore.Unix(), "NotAfter": f.leaf.NotAfter.Unix(),
			"CreatedAt": c.Imported.Unix(), "ImportedAt": c.Imported.Unix(),
		})
	}
	size := 1000
	if in.MaxItems != nil {
		size = *in.MaxItems
	}
	out, next, perr := page(summaries, in.NextToken, &size)
	if perr != nil {
		return nil, acmErr("InvalidArgsException", "NextToken '%s' is not a token this call returned", in.NextToken)
	}
	res := map[string]any{"CertificateSummaryList": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

// getCertificate is GetCertificate: the certificate as imported, PEM, and its chain when one
// was imported with it.
func (s *Server) getCertificate(body []byte) (any, *apiError) {
	var in struct{ CertificateArn string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	c := s.snapshot().Certificates[in.CertificateArn]
	if c == nil {
		return nil, acmErr("ResourceNotFoundException", "Could not find certificate %s.", in.CertificateArn)
	}
	pemBytes, err := s.store.blob(c.Cert)
	if err != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	leaf, rest := pem.Decode(pemBytes)
	if leaf == nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "the stored certificate is not PEM"}
	}
	out := map[string]string{"Certificate": string(pem.EncodeToMemory(leaf))}
	if chain := bytes.TrimSpace(rest); len(chain) > 0 {
		out["CertificateChain"] = string(chain) + "\n"
	}
	return out, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// keyAlgorithm is ACM's name for a certificate's key (RSA_2048, EC_prime256v1, …).
func keyAlgorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA_%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return "EC_prime256v1"
		case "P-384":
			return "EC_secp384r1"
		case "P-521":
			return "EC_secp521r1"
		}
	}
	return c.PublicKeyAlgorithm.String()
}

func (s *Server) deleteCertificate(r *http.Request, body []byte) (any, *apiError) {
	var in struct{ CertificateArn string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	err := s.change(r.Context(), func(m *model) *apiError {
		if m.Certificates[in.CertificateArn] == nil {
			return acmErr("ResourceNotFoundException", "Could not find certificate %s.", in.CertificateArn)
		}
		for _, l := range m.Listeners {
			for _, a := range l.Certificates {
				if a == in.CertificateArn {
					return acmErr("ResourceInUseException", "Certificate %s is in use by listener %s.", in.CertificateArn, l.Arn)
				}
			}
		}
		delete(m.Certificates, in.CertificateArn)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}
